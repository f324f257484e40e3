import ESDL
import Foundation
import Testing

@Suite("Semantic versions")
struct SemanticVersionTests {
    @Test(
        "valid versions parse and print back unchanged",
        arguments: [
            "0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7", "1.0.0-x.7.z.92",
            "1.0.0-x-y-z.--", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3----117B344092BD",
            "1.0.0-rc.1+build.001", "2.0.0-rc-1",
        ])
    func valid(text: String) throws {
        let version = try #require(SemanticVersion(text))
        #expect(version.description == text)
    }

    @Test("the parts are read into the model")
    func parts() throws {
        let version = try #require(SemanticVersion("1.2.3-rc.1+build.5"))
        #expect(version == SemanticVersion(major: 1, minor: 2, patch: 3, prerelease: ["rc", "1"], build: ["build", "5"]))
    }

    @Test(
        "invalid versions are rejected",
        arguments: [
            "", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03", "v1.2.3", " 1.2.3", "1.2.3 ", "1.2.3-", "1.2.3+",
            "1.2.3-01", "1.2.3-a..b", "1.2.3-a_b", "1.2.3+a..b", "-1.2.3", "1.-2.3", "a.b.c", "1.2.3-é",
            "99999999999999999999.0.0", "1..3", "1.2.3+build+x",
        ])
    func invalid(text: String) {
        #expect(SemanticVersion(text) == nil)
    }

    @Test("versions sort by semver precedence")
    func precedence() throws {
        let ordered = [
            "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11",
            "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0", "10.0.0",
        ].map { SemanticVersion($0)! }
        for (index, lower) in ordered.enumerated() {
            for higher in ordered[(index + 1)...] {
                #expect(lower < higher, "\(lower) < \(higher)")
                #expect(!(higher < lower), "\(higher) !< \(lower)")
            }
        }
        #expect(ordered.shuffled().sorted() == ordered)
    }

    @Test("build metadata does not affect precedence")
    func buildIgnored() throws {
        let a = try #require(SemanticVersion("1.0.0+a"))
        let b = try #require(SemanticVersion("1.0.0+b"))
        #expect(!(a < b) && !(b < a))
        #expect(a.hasSamePrecedence(as: b))
        #expect(a != b)
    }

    @Test("large numeric pre-release identifiers compare as numbers")
    func largeNumericIdentifiers() throws {
        let small = try #require(SemanticVersion("1.0.0-99999999999999999999"))
        let large = try #require(SemanticVersion("1.0.0-100000000000000000000"))
        #expect(small < large)
    }

    @Test("Codable uses the string form")
    func codable() throws {
        let version = try #require(SemanticVersion("1.2.3-rc.1"))
        let data = try JSONEncoder().encode([version])
        #expect(String(decoding: data, as: UTF8.self) == #"["1.2.3-rc.1"]"#)
        #expect(try JSONDecoder().decode([SemanticVersion].self, from: data) == [version])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([SemanticVersion].self, from: Data(#"["1.2"]"#.utf8)) }
    }
}

@Suite("Version requirements")
struct VersionRequirementTests {
    private func matches(_ requirement: String, _ version: String) throws -> Bool {
        try VersionRequirement(requirement).matches(try #require(SemanticVersion(version)))
    }

    @Test(
        "each form matches exactly the versions it should",
        arguments: [
            ("*", ["0.0.1", "1.0.0", "99.1.2"], ["1.0.0-rc.1"]),
            ("1.2.3", ["1.2.3", "1.2.3+build"], ["1.2.4", "1.2.2", "1.2.3-rc.1"]),
            ("=1.2.3", ["1.2.3"], ["1.2.4"]),
            ("=1.2", ["1.2.0", "1.2.9"], ["1.3.0", "1.1.9"]),
            ("1.2.*", ["1.2.0", "1.2.9"], ["1.3.0"]),
            ("1.*.*", ["1.0.0", "1.2.9"], ["2.0.0"]),
            ("*.*", ["1.0.0"], ["1.0.0-rc.1"]),
            ("1.x", ["1.0.0", "1.9.9"], ["2.0.0", "0.9.0"]),
            ("^1.2.3", ["1.2.3", "1.9.0"], ["1.2.2", "2.0.0", "2.0.0-rc.1"]),
            ("^1.2", ["1.2.0", "1.99.0"], ["1.1.9", "2.0.0"]),
            ("^1", ["1.0.0", "1.9.9"], ["0.9.9", "2.0.0"]),
            ("^0.2.3", ["0.2.3", "0.2.9"], ["0.3.0", "0.2.2"]),
            ("^0.0.3", ["0.0.3"], ["0.0.4", "0.0.2"]),
            ("^0.0", ["0.0.0", "0.0.9"], ["0.1.0"]),
            ("^0", ["0.0.0", "0.9.9"], ["1.0.0"]),
            ("~1.2.3", ["1.2.3", "1.2.9"], ["1.3.0", "1.2.2"]),
            ("~1.2", ["1.2.0", "1.2.9"], ["1.3.0"]),
            ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
            (">1.2.3", ["1.2.4", "2.0.0"], ["1.2.3", "1.0.0"]),
            (">1.2", ["1.3.0"], ["1.2.9"]),
            (">=1.2.3", ["1.2.3", "5.0.0"], ["1.2.2"]),
            ("<1.2.3", ["1.2.2", "0.1.0"], ["1.2.3", "1.2.3-rc.1"]),
            ("<=1.2", ["1.2.9", "1.0.0"], ["1.3.0"]),
            (">=1.0.0, <2.0.0", ["1.0.0", "1.99.99"], ["0.9.9", "2.0.0"]),
            (" >= 1.0.0 ,< 2 ", ["1.5.0"], ["2.0.0"]),
            (">=2.0.0-rc.1", ["2.0.0-rc.1", "2.0.0-rc.2", "2.0.0", "2.1.0"], ["2.0.0-beta", "2.1.0-rc.1"]),
        ])
    func forms(requirement: String, matching: [String], notMatching: [String]) throws {
        for version in matching { #expect(try matches(requirement, version), "\(requirement) should match \(version)") }
        for version in notMatching { #expect(try !matches(requirement, version), "\(requirement) should not match \(version)") }
    }

    @Test("requirements print in normalised form")
    func normalised() throws {
        #expect(try VersionRequirement(" >= 1.0.0 ,< 2 ").description == ">=1.0.0, <2")
        #expect(try VersionRequirement("1.2.3").description == "=1.2.3")
        #expect(try VersionRequirement("*").description == "*")
        #expect(try VersionRequirement("^0.1").description == "^0.1")
        #expect(VersionRequirement.exactly(SemanticVersion("1.0.0-rc.1")!).description == "=1.0.0-rc.1")
    }

    @Test("the highest matching version is chosen")
    func highestMatch() throws {
        let versions = ["0.9.0", "1.0.0", "1.4.2", "1.5.0-rc.1", "2.0.0"].map { SemanticVersion($0)! }
        #expect(try VersionRequirement("^1").highestMatch(in: versions) == SemanticVersion("1.4.2"))
        #expect(try VersionRequirement("*").highestMatch(in: versions) == SemanticVersion("2.0.0"))
        #expect(try VersionRequirement(">=3").highestMatch(in: versions) == nil)
    }

    @Test(
        "invalid requirements say what is wrong and where",
        arguments: [
            ("", 1, "the requirement is empty; expected '*', a version such as 1.2.3, or comparators such as '>=1.0.0, <2.0.0'"),
            (">=", 3, "expected a version such as 1.2.3 after '>=', found end of input"),
            (">=1.0 <2.0", 7, "expected ',' between comparators, found '<'"),
            ("1.0.0 || 2.0.0", 7, "'||' (either requirement) is not supported; expected comparators that must all match, separated by ','"),
            ("^1.02", 4, "'02' has a leading zero"),
            ("v1.2.3", 1, "'v1' is not a number"),
            (">=1.*", 5, "a wildcard is allowed only in a bare or '=' comparator, not after '>='"),
            ("1.2-rc.1", 4, "a pre-release or build suffix needs a full version MAJOR.MINOR.PATCH"),
            ("1.0.0,", 7, "expected a comparator after ',', found end of input"),
            ("1.2.3.4", 6, "a version has at most three numbers MAJOR.MINOR.PATCH, found another '.'"),
            ("1.*.*.*", 6, "a version has at most three numbers MAJOR.MINOR.PATCH, found another '.'"),
            ("1.*.2", 5, "expected a wildcard after a wildcard (as in 1.*.*), found '2'"),
            ("=>1.0.0", 2, "expected a version such as 1.2.3 after '=', found '>'"),
        ])
    func invalid(text: String, column: Int, message: String) throws {
        let error = try #require(throws: ESDLError.self) { try VersionRequirement(text) }
        let diagnostic = try #require(error.diagnostics.first)
        #expect(diagnostic.message == "invalid version requirement: \(message)")
        #expect(diagnostic.location.column == column)
        #expect(diagnostic.code == .invalidVersionRequirement)
    }

    @Test("Codable uses the text form")
    func codable() throws {
        let requirement = try VersionRequirement("^1.2")
        let data = try JSONEncoder().encode([requirement])
        #expect(String(decoding: data, as: UTF8.self) == #"["^1.2"]"#)
        #expect(try JSONDecoder().decode([VersionRequirement].self, from: data) == [requirement])
    }
}

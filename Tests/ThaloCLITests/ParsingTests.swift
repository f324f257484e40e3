import ArgumentParser
import GuestBuilder
import Logging
import Testing

@testable import ThaloCLI

/// The command line parses into typed options, and refuses bad values with ArgumentParser's
/// usage errors (exit 64), before anything runs.
@Suite("CLI parsing")
struct ParsingTests {
    @Test("typed options: build --optimization, generate --format and --lang, new --lang")
    func typedOptions() throws {
        let build = try #require(try ThaloCommand.parseAsRoot(["build", "folder", "--optimization", "speed"]) as? Build)
        #expect(build.optimization == .speed)
        #expect(try #require(try ThaloCommand.parseAsRoot(["build", "folder"]) as? Build).optimization == .size)
        let generate = try #require(try ThaloCommand.parseAsRoot(["generate", "a.esdl", "--format", "json-schema"]) as? Generate)
        #expect(generate.format == .jsonSchema)
        #expect(generate.lang == .swift)
        let rust = try #require(try ThaloCommand.parseAsRoot(["generate", "a.esdl", "--lang", "rust"]) as? Generate)
        #expect(rust.lang == .rust && rust.format == .swift)
        #expect(try #require(try ThaloCommand.parseAsRoot(["new", "Cart", "--lang", "rust"]) as? New).lang == .rust)
    }

    @Test(
        "bad values are usage errors that name the option",
        arguments: [
            (["build", "folder", "--optimization", "fast"], "--optimization"),
            (["generate", "a.esdl", "--format", "rust"], "--format"),
            (["new", "Cart", "--lang", "c"], "--lang"),
            (["serve", "--listen", "localhost"], "--listen"),
            (["serve", "--listen", "host:99999"], "--listen"),
            (["serve", "--log-level", "loud"], "--log-level"),
            (["publish", "a.esdl", "a.wasm", "--sample", "-1"], "--sample"),
            (["serve", "--snapshot-every=-1"], "--snapshot-every"),
            (["serve", "--partitions", "0"], "--partitions"),
            (["serve", "--lease", "1", "--heartbeat", "1"], "--lease"),
            (["serve", "--node-id", "a b"], "--node-id"),
            (["serve", "--cache-capacity", "0"], "--cache-capacity"),
            (["serve", "--durability", "fast"], "--durability"),
            (["serve", "--token", ""], "token"),
        ])
    func badValues(arguments: [String], option: String) {
        do {
            _ = try ThaloCommand.parseAsRoot(arguments)
            Issue.record("\(arguments) should not parse")
        } catch {
            #expect(ThaloCommand.exitCode(for: error) == .validationFailure)
            #expect(ThaloCommand.message(for: error).contains(option), "\(ThaloCommand.message(for: error))")
        }
    }

    @Test("serve --listen and --log-level are parsed once into typed values")
    func serve() throws {
        let serve = try #require(try ThaloCommand.parseAsRoot(["serve", "--listen", ":8080", "--log-level", "debug"]) as? Serve)
        #expect(serve.listen == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(serve.logLevel == .debug)
        let defaults = try #require(try ThaloCommand.parseAsRoot(["serve"]) as? Serve)
        #expect(defaults.listen.description == "127.0.0.1:7878")
        #expect(defaults.snapshotEvery == 100)
        #expect(try #require(try ThaloCommand.parseAsRoot(["serve", "--snapshot-every", "0"]) as? Serve).snapshotEvery == 0)
        #expect(defaults.durability == .full)
        #expect(try #require(try ThaloCommand.parseAsRoot(["serve", "--durability", "os"]) as? Serve).durability == .os)
        #expect(ListenAddress(argument: "[::1]:9") == ListenAddress(host: "[::1]", port: 9))
    }

    @Test("modules lists by default and has an activate subcommand")
    func modules() throws {
        let list = try #require(try ThaloCommand.parseAsRoot(["modules", "BankAccount"]) as? ListModules)
        #expect(list.aggregate == "BankAccount")
        #expect(try ThaloCommand.parseAsRoot(["modules"]) is ListModules)
        let activate = try #require(try ThaloCommand.parseAsRoot(["modules", "activate", "BankAccount", "0.1.0", "--force"]) as? Activate)
        #expect(activate.aggregate == "BankAccount" && activate.version == "0.1.0" && activate.check.force)
        let publish = try #require(
            try ThaloCommand.parseAsRoot(["publish", "a.esdl", "a.wasm", "--sample", "10", "--compare"]) as? Publish)
        #expect(publish.check.sample == 10 && publish.check.compare && !publish.check.force)
    }
}

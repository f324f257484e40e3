import ArgumentParser
import ThaloCLI

/// The `thalo` executable: the commands live in ThaloCLI.
@main
@available(macOS 10.15, macCatalyst 13, iOS 13, tvOS 13, watchOS 6, *)
struct Thalo: AsyncParsableCommand {
    static let configuration = ThaloCommand.configuration
}

import Foundation
import PulseCore

/// `PULSEGATE_*` variables, read as the flags' defaults so that a flag always wins.
/// A variable that is set but unreadable stops the program rather than being ignored.
enum Environment {
    static func string(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    static func int(_ name: String) -> Int? {
        string(name).map { text in
            guard let value = Int(text) else { invalid(name, text, "an integer") }
            return value
        }
    }

    static func double(_ name: String) -> Double? {
        string(name).map { text in
            guard let value = Double(text), value.isFinite else { invalid(name, text, "a number") }
            return value
        }
    }

    static func duration(_ name: String) -> Duration? {
        string(name).map { text in
            guard let value = DurationText.duration(text) else { invalid(name, text, "a duration such as 500ms, 15s, 1m or 7d") }
            return value
        }
    }

    static func bool(_ name: String) -> Bool? {
        string(name).map { text in
            switch text.lowercased() {
            case "1", "true", "yes": return true
            case "0", "false", "no": return false
            default: invalid(name, text, "1 or 0 (true or false)")
            }
        }
    }

    private static func invalid(_ name: String, _ text: String, _ expected: String) -> Never {
        FileHandle.standardError.write(Data("Error: \(name)=\"\(text)\" is not \(expected)\n".utf8))
        exit(64)
    }
}

import Foundation

/// What a live client may send: today, a new subscription.
public enum LiveClientMessage: Sendable, Equatable {
    case subscribe(SubscriptionFilter)

    /// Decodes one text message; the error says what was wrong, for an `error` frame.
    public static func decode(_ text: String) -> Result<LiveClientMessage, LiveProtocolError> {
        struct Envelope: Decodable {
            let type: String
            let metrics: [String]?
        }
        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(text.utf8))
        } catch {
            return .failure(LiveProtocolError("message is not a JSON object with a string \"type\""))
        }
        switch envelope.type {
        case "subscribe":
            guard let metrics = envelope.metrics else {
                return .failure(LiveProtocolError("subscribe needs \"metrics\": a list of names or prefixes ending in *; [] is every metric"))
            }
            switch SubscriptionFilter.parse(metrics) {
            case let .success(filter): return .success(.subscribe(filter))
            case let .failure(rejected): return .failure(LiveProtocolError(rejected.description))
            }
        default:
            return .failure(LiveProtocolError("unknown message type \"\(SampleValidator.printable(envelope.type, limit: 40))\"; the only one is \"subscribe\""))
        }
    }
}

/// A client message that broke the protocol, worded for the client.
public struct LiveProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

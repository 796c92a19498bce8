/// Reads the protobuf wire format, field by field, from bytes in memory: enough
/// for the few messages Pulsegate decodes by hand (remote_write's `WriteRequest`).
///
/// Every read is bounded by the message it is in: a length that runs past its
/// message, a varint longer than ten bytes, or a wire type that proto3 does not
/// use is a `ProtobufError`, never a read out of bounds or a trap. A reader
/// borrows its bytes: it lives inside the caller's `withUnsafeBytes`.
struct ProtobufReader {
    /// A field's wire type: how its value is laid out.
    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    private let bytes: UnsafeRawBufferPointer
    private var position: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        self.position = 0
    }

    var isAtEnd: Bool { position == bytes.count }

    /// Where the next read starts, from the start of the message.
    var offset: Int { position }

    /// Bytes of the message, by offset.
    func bytes(in range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[range])
    }

    /// The next field's number and wire type; nil at the end of the message.
    mutating func nextField() throws(ProtobufError) -> (number: UInt64, wireType: WireType)? {
        guard !isAtEnd else { return nil }
        let tag = try varint()
        let number = tag >> 3
        guard number > 0, number <= 536_870_911 else { throw ProtobufError("field number \(number) at byte \(position) is out of range") }
        guard let wireType = WireType(rawValue: UInt8(tag & 7)) else {
            // 3 and 4 are proto2's groups, which remote_write never uses; 6 and 7 do not exist.
            throw ProtobufError("wire type \(tag & 7) of field \(number) is not one proto3 uses")
        }
        return (number, wireType)
    }

    /// A base-128 varint: at most ten bytes, the tenth holding only the top bit.
    mutating func varint() throws(ProtobufError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.count else { throw ProtobufError("a varint runs past the end of its message") }
            let byte = bytes[position]
            position += 1
            if shift == 63, byte > 1 { throw ProtobufError("a varint overflows 64 bits") }
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// Eight little-endian bytes.
    mutating func fixed64() throws(ProtobufError) -> UInt64 {
        guard bytes.count - position >= 8 else { throw ProtobufError("a 64-bit field runs past the end of its message") }
        let value = bytes.loadUnaligned(fromByteOffset: position, as: UInt64.self)
        position += 8
        return UInt64(littleEndian: value)
    }

    /// A length-delimited field's bytes: a nested message, a string, packed values.
    mutating func lengthDelimited() throws(ProtobufError) -> UnsafeRawBufferPointer {
        let length = try varint()
        guard length <= UInt64(bytes.count - position) else {
            throw ProtobufError("a field of \(length) bytes runs past the end of its message")
        }
        let field = UnsafeRawBufferPointer(rebasing: bytes[position..<(position + Int(length))])
        position += Int(length)
        return field
    }

    /// A length-delimited field read as UTF-8 text (protobuf's `string`).
    mutating func string(_ what: @autoclosure () -> String) throws(ProtobufError) -> String {
        let field = try lengthDelimited()
        // Names and most values are ASCII, which needs no validating (and the generic
        // validating initialiser costs more than the rest of a label's decoding).
        if !field.contains(where: { $0 >= 0x80 }) { return String(decoding: field, as: UTF8.self) }
        guard let text = String(validating: field, as: UTF8.self) else {
            throw ProtobufError("\(what()) is not valid UTF-8")
        }
        return text
    }

    /// Passes over a field this reader does not want.
    mutating func skip(_ wireType: WireType) throws(ProtobufError) {
        switch wireType {
        case .varint: _ = try varint()
        case .fixed64: _ = try fixed64()
        case .lengthDelimited: _ = try lengthDelimited()
        case .fixed32:
            guard bytes.count - position >= 4 else { throw ProtobufError("a 32-bit field runs past the end of its message") }
            position += 4
        }
    }

    /// Checks that a field has the wire type its declaration gives it.
    static func expect(_ wireType: WireType, _ expected: WireType, field: @autoclosure () -> String) throws(ProtobufError) {
        guard wireType == expected else { throw ProtobufError("\(field()) has wire type \(wireType.rawValue), not \(expected.rawValue)") }
    }
}

/// Bytes that are not the protobuf message they claim to be.
public struct ProtobufError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

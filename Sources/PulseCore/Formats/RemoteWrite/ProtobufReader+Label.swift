extension ProtobufReader {
    /// A label message, `{ string name = 1; string value = 2; }`: remote_write's
    /// `Label` and client_model's `LabelPair` alike. `owner` names what it
    /// belongs to in errors (`timeseries[3]`, `a metric`).
    static func label(in message: UnsafeRawBufferPointer, of owner: @autoclosure () -> String) throws(ProtobufError) -> Label {
        var reader = ProtobufReader(message)
        var label = Label("", "")
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try expect(wireType, .lengthDelimited, field: "\(owner())'s label name")
                label.name = try reader.string("\(owner())'s label name")
            case 2:
                try expect(wireType, .lengthDelimited, field: "\(owner())'s label value")
                label.value = try reader.string("\(owner())'s label value")
            default:
                try reader.skip(wireType)
            }
        }
        return label
    }
}

import SonarCore

/// Recognises the start of a WebSocket frame in a stream whose handshake was not seen.
enum WebSocketSniffer {
    /// A known opcode, RSV2/RSV3 clear, and the mask bit the direction requires (clients mask,
    /// servers do not). Only a hint for reporting: nothing is decoded from it.
    static func looksLikeFrame(_ bytes: UnsafeRawBufferPointer, direction: Direction) -> Bool {
        guard bytes.count >= 2 else { return false }
        let opcode = bytes[0] & 0x0F
        guard [0, 1, 2, 8, 9, 10].contains(opcode), bytes[0] & 0x30 == 0 else { return false }
        let masked = bytes[1] & 0x80 != 0
        return masked == (direction == .toServer)
    }
}

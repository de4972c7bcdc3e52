#if canImport(Glibc)
import Glibc
#endif
import Testing
import SonarCore
@testable import SonarOutput

// MARK: -o

@Test func sinkSpecParsesEveryForm() throws {
    #expect(try SinkSpec.parse("-") == .standardOutput)
    #expect(try SinkSpec.parse("/var/log/mcpsonar/eve.json") == .file(path: "/var/log/mcpsonar/eve.json"))
    #expect(try SinkSpec.parse("eve.json") == .file(path: "eve.json"))
    #expect(try SinkSpec.parse("./unix:odd") == .file(path: "./unix:odd"))
    #expect(try SinkSpec.parse("http://x/y") == .file(path: "http://x/y"))
    #expect(try SinkSpec.parse("unix:/run/mcpsonar/eve.sock") == .unix(path: "/run/mcpsonar/eve.sock", kind: .stream))
    #expect(try SinkSpec.parse("unixgram:/run/vector.sock") == .unix(path: "/run/vector.sock", kind: .datagram))
    #expect(try SinkSpec.parse("syslog://collector.example:1514") == .syslog(host: "collector.example", port: 1514, transport: .udp))
    #expect(try SinkSpec.parse("syslog://10.1.2.3") == .syslog(host: "10.1.2.3", port: 514, transport: .udp))
    #expect(try SinkSpec.parse("syslog+udp://10.1.2.3:5514") == .syslog(host: "10.1.2.3", port: 5514, transport: .udp))
    #expect(try SinkSpec.parse("syslog+tcp://collector:6514") == .syslog(host: "collector", port: 6514, transport: .tcp))
    #expect(try SinkSpec.parse("syslog+tcp://[::1]:514") == .syslog(host: "::1", port: 514, transport: .tcp))
    #expect(try SinkSpec.parse("syslog+tcp://[fe80::1%eth0]") == .syslog(host: "fe80::1%eth0", port: 514, transport: .tcp))
    #expect(try SinkSpec.parse("SYSLOG+TCP://h:65535") == .syslog(host: "h", port: 65535, transport: .tcp))
    #expect(try SinkSpec.parse("-").label == "stdout")
    #expect(try SinkSpec.parse("unixgram:/x").label == "unixgram")
    #expect(try SinkSpec.parse("syslog+tcp://h").label == "syslog_tcp")
}

@Test func sinkSpecRejectsBadFormsWithClearMessages() {
    let long = "unix:/" + String(repeating: "a", count: 107)
    let cases: [(String, String)] = [
        ("", "invalid output '': empty"),
        ("unix:", "invalid output 'unix:': no socket path after 'unix:'"),
        ("unixgram:", "invalid output 'unixgram:': no socket path after 'unixgram:'"),
        (long, "invalid output '\(long)': a unix socket path must be at most 107 bytes"),
        ("syslog://", "invalid output 'syslog://': no collector host"),
        ("syslog://:514", "invalid output 'syslog://:514': no collector host"),
        ("syslog://h:0", "invalid output 'syslog://h:0': port must be a number from 1 to 65535, not '0'"),
        ("syslog://h:65536", "invalid output 'syslog://h:65536': port must be a number from 1 to 65535, not '65536'"),
        ("syslog://h:", "invalid output 'syslog://h:': port must be a number from 1 to 65535, not ''"),
        ("syslog://h:+1", "invalid output 'syslog://h:+1': port must be a number from 1 to 65535, not '+1'"),
        ("syslog://h:514/x", "invalid output 'syslog://h:514/x': expected HOST or HOST:PORT after '://', nothing more"),
        ("syslog://::1", "invalid output 'syslog://::1': an IPv6 address goes in brackets: [::1]:514"),
        ("syslog://[::1", "invalid output 'syslog://[::1': missing ']' after the IPv6 address"),
        ("syslog://[::1]514", "invalid output 'syslog://[::1]514': expected ':PORT' after ']'"),
        ("syslog://[nothex]:514", "invalid output 'syslog://[nothex]:514': 'nothex' is not an IPv6 address"),
        ("syslog://bad host", "invalid output 'syslog://bad host': 'bad host' is not a host name or address"),
        ("syslog+tls://h:6514", "invalid output 'syslog+tls://h:6514': unknown syslog transport 'syslog+tls': use syslog://, syslog+udp:// or syslog+tcp://"),
        ("syslog:h:514", "invalid output 'syslog:h:514': a syslog collector is written syslog://HOST:PORT, syslog+udp://HOST:PORT or syslog+tcp://HOST:PORT"),
    ]
    for (spec, message) in cases {
        #expect(throws: SinkError.self) { try SinkSpec.parse(spec) }
        do {
            _ = try SinkSpec.parse(spec)
        } catch {
            #expect(error.description == message)
        }
    }
}

@Test func sinkSpecOpenFailsOnlyForAFileThatCannotBeOpened() {
    do {
        _ = try SinkSpec.parse("/nonexistent-dir/eve.json").open()
        Issue.record("opened")
    } catch {
        #expect(error == .cannotOpen("/nonexistent-dir/eve.json", "No such file or directory"))
    }
}

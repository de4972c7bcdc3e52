// The MCP layer: see docs/ARCHITECTURE.md.
import SonarCore

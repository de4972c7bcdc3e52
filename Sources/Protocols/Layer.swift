// The Protocols layer: see docs/ARCHITECTURE.md.
import SonarCore

// The Flow layer: see docs/ARCHITECTURE.md.
import SonarCore

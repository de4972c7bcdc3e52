// The Capture layer: see docs/ARCHITECTURE.md.
import SonarCore

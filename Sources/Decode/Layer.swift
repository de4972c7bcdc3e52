// The Decode layer: see docs/ARCHITECTURE.md.
import SonarCore

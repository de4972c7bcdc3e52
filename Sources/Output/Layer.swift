// The Output layer: see docs/ARCHITECTURE.md.
import SonarCore

// The Engine layer: see docs/ARCHITECTURE.md.
import SonarCore

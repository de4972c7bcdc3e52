// The hints are inline functions in include/hints.h; this file gives the target a source.
#include "hints.h"

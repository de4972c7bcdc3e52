#ifndef MCPSONAR_CZLIB_SHIM_H
#define MCPSONAR_CZLIB_SHIM_H
#include <zlib.h>
#endif

#ifndef PULSEGATE_CZLIB_SHIM_H
#define PULSEGATE_CZLIB_SHIM_H
#include <zlib.h>
#endif

#ifndef PULSEGATE_CSNAPPY_SHIM_H
#define PULSEGATE_CSNAPPY_SHIM_H
#include <snappy-c.h>
#endif

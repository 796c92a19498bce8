#ifndef PULSEGATE_CSQLITE_SHIM_H
#define PULSEGATE_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif

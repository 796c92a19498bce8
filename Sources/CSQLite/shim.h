#ifndef PULSEGATE_CSQLITE_SHIM_H
#define PULSEGATE_CSQLITE_SHIM_H
#include <sqlite3.h>

// sqlite3_config is variadic, which Swift cannot call: one wrapper per setting used.

// Memory statistics take a global mutex on every allocation; Pulsegate never reads them.
// Must run before SQLite is first used in the process (it returns SQLITE_MISUSE after).
static inline int pulsegate_sqlite3_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
#endif

/* keys/pgp_scan.c — placeholder until its owner lands it. */
#include "config.h"

#include "keys/keys.h"

/* keys/masking.c — placeholder until its owner lands it. */
#include "config.h"

#include "keys/keys.h"

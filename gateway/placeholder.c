/* placeholder: the ssh part replaces it with real sources */
#include "config.h"
extern int rg_gateway_placeholder;
int rg_gateway_placeholder;

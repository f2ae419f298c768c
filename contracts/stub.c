/* placeholder so the library exists until its first source lands */
#include "config.h"
extern int rg_contracts_placeholder;
int rg_contracts_placeholder;

/* placeholder so the library exists until its first source lands */
#include "config.h"
extern int rg_keys_placeholder;
int rg_keys_placeholder;

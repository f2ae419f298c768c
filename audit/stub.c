/* placeholder so the library exists until its first source lands */
#include "config.h"
extern int rg_audit_placeholder;
int rg_audit_placeholder;

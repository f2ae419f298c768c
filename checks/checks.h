/* checks/ — the check engine. */
#ifndef RG_CHECKS_H
#define RG_CHECKS_H
#endif

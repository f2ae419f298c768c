/* gateway/ — relgated program code. */
#ifndef RG_GATEWAY_H
#define RG_GATEWAY_H
#endif

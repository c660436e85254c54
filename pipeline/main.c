/* placeholder until the command lands */
#include <stdio.h>
int main(void) { puts("tessera " TS_VERSION); return 0; }

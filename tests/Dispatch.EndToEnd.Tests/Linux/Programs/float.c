/* printf of floating point (needs x87/SSE in the engine). */
#include <stdio.h>
int main(void)
{
    double x = 1.0 / 3.0;
    printf("%f %.10g %e %g\n", x, x * 1e10, 12345.678, 0.0001);
    return 0;
}

#include <oneapi/dnnl/dnnl.h>
// Debian's oneDNN runs on OpenMP (libgomp); each calling thread sets its own team size.
void omp_set_num_threads(int);

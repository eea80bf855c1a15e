// Linux epoll, which Swift's Glibc module does not import.
#include <sys/epoll.h>

#include <usm/usm.h>

const char *usm_version(void)
{
	return USM_VERSION;
}

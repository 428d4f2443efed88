/*
 * version: crispctl's `version`, as crictl's: the CRI Version call (which
 * also shows which socket answers), the runtime's name and versions.
 */
#include <stdio.h>
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"

int ctl_version(struct ctl *c, int argc, char **argv)
{
	if (argc != 1)
		return ctl_usage("version");
	Runtime__V1__VersionRequest rq = RUNTIME__V1__VERSION_REQUEST__INIT;
	Runtime__V1__VersionResponse *resp = NULL;
	rq.version = "v1";
	if (ctl_cri_call(c, "Version", &rq.base, &runtime__v1__version_response__descriptor, 0, 0,
			 (ProtobufCMessage **)&resp) < 0)
		return CTL_EXIT_FAIL;
	printf("Version:  %s\nRuntimeName:  %s\nRuntimeVersion:  %s\nRuntimeApiVersion:  %s\n",
	       resp->version, resp->runtime_name, resp->runtime_version, resp->runtime_api_version);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

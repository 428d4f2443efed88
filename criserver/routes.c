/*
 * routes: the one table of the CRI methods criserver answers, in the order
 * of the spec (runtime.v1, 43 methods): path, request type, whether the
 * answer is a server stream, and the handler (NULL: not built yet, answered
 * UNIMPLEMENTED by rpc_call.c). tests/unit/test_criserver_routes.c checks it
 * against the services that protoc-c generated from proto/cri.proto.
 * Must stay a table: no logic here.
 */
#include "criserver/criserver.h"
#include "cri.pb-c.h"

#define RT(name, req, stream, handler) \
	{ "/runtime.v1.RuntimeService/" #name, &runtime__v1__##req##__descriptor, stream, handler }
#define IMG(name, req, stream, handler) \
	{ "/runtime.v1.ImageService/" #name, &runtime__v1__##req##__descriptor, stream, handler }

static const struct rpc_method methods[] = {
	RT(Version, version_request, false, cri_version),
	RT(RunPodSandbox, run_pod_sandbox_request, false, cri_run_pod_sandbox),
	RT(StopPodSandbox, stop_pod_sandbox_request, false, cri_stop_pod_sandbox),
	RT(RemovePodSandbox, remove_pod_sandbox_request, false, cri_remove_pod_sandbox),
	RT(PodSandboxStatus, pod_sandbox_status_request, false, cri_pod_sandbox_status),
	RT(ListPodSandbox, list_pod_sandbox_request, false, cri_list_pod_sandbox),
	RT(StreamPodSandboxes, stream_pod_sandboxes_request, true, NULL),
	RT(CreateContainer, create_container_request, false, cri_create_container),
	RT(StartContainer, start_container_request, false, cri_start_container),
	RT(StopContainer, stop_container_request, false, cri_stop_container),
	RT(RemoveContainer, remove_container_request, false, cri_remove_container),
	RT(ListContainers, list_containers_request, false, cri_list_containers),
	RT(StreamContainers, stream_containers_request, true, NULL),
	RT(ContainerStatus, container_status_request, false, cri_container_status),
	RT(UpdateContainerResources, update_container_resources_request, false, NULL),
	RT(ReopenContainerLog, reopen_container_log_request, false, cri_reopen_container_log),
	RT(ExecSync, exec_sync_request, false, cri_exec_sync),
	RT(Exec, exec_request, false, NULL),
	RT(Attach, attach_request, false, NULL),
	RT(PortForward, port_forward_request, false, NULL),
	RT(ContainerStats, container_stats_request, false, NULL),
	RT(ListContainerStats, list_container_stats_request, false, NULL),
	RT(StreamContainerStats, stream_container_stats_request, true, NULL),
	RT(PodSandboxStats, pod_sandbox_stats_request, false, NULL),
	RT(ListPodSandboxStats, list_pod_sandbox_stats_request, false, NULL),
	RT(StreamPodSandboxStats, stream_pod_sandbox_stats_request, true, NULL),
	RT(UpdateRuntimeConfig, update_runtime_config_request, false, NULL),
	RT(Status, status_request, false, cri_status),
	RT(CheckpointContainer, checkpoint_container_request, false, NULL),
	RT(CheckpointPod, checkpoint_pod_request, false, NULL),
	RT(RestorePod, restore_pod_request, false, NULL),
	RT(GetContainerEvents, get_events_request, true, NULL),
	RT(ListMetricDescriptors, list_metric_descriptors_request, false, NULL),
	RT(ListPodSandboxMetrics, list_pod_sandbox_metrics_request, false, NULL),
	RT(StreamPodSandboxMetrics, stream_pod_sandbox_metrics_request, true, NULL),
	RT(RuntimeConfig, runtime_config_request, false, cri_runtime_config),
	RT(UpdatePodSandboxResources, update_pod_sandbox_resources_request, false, NULL),

	IMG(ListImages, list_images_request, false, cri_list_images),
	IMG(StreamImages, stream_images_request, true, cri_stream_images),
	IMG(ImageStatus, image_status_request, false, cri_image_status),
	IMG(PullImage, pull_image_request, false, cri_pull_image),
	IMG(RemoveImage, remove_image_request, false, cri_remove_image),
	IMG(ImageFsInfo, image_fs_info_request, false, cri_image_fs_info),
};

const struct rpc_method *cri_methods(size_t *ret_n)
{
	*ret_n = sizeof methods / sizeof methods[0];
	return methods;
}

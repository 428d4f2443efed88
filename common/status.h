/*
 * status: the gRPC status codes that crisp's internal answers carry
 * (crisp.Envelope.status). Same numbers as grpc_status_code in <grpc/status.h>,
 * named here so that common/ and the daemons behind criserver need not
 * depend on grpc. Only constants; never add logic here.
 */
#pragma once

enum crisp_status {
	CRISP_STATUS_OK = 0,
	CRISP_STATUS_CANCELLED = 1,
	CRISP_STATUS_UNKNOWN = 2,
	CRISP_STATUS_INVALID_ARGUMENT = 3,
	CRISP_STATUS_DEADLINE_EXCEEDED = 4,
	CRISP_STATUS_NOT_FOUND = 5,
	CRISP_STATUS_ALREADY_EXISTS = 6,
	CRISP_STATUS_PERMISSION_DENIED = 7,
	CRISP_STATUS_RESOURCE_EXHAUSTED = 8,
	CRISP_STATUS_FAILED_PRECONDITION = 9,
	CRISP_STATUS_ABORTED = 10,
	CRISP_STATUS_OUT_OF_RANGE = 11,
	CRISP_STATUS_UNIMPLEMENTED = 12,
	CRISP_STATUS_INTERNAL = 13,
	CRISP_STATUS_UNAVAILABLE = 14,
	CRISP_STATUS_DATA_LOSS = 15,
	CRISP_STATUS_UNAUTHENTICATED = 16,
};

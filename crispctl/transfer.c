/*
 * transfer: crispctl's `image import`, `image export` and `image push`.
 * Archives travel as fds: crispctl opens the file it is given (or stdin /
 * stdout, or a pipe fed from a layout directory by layout_dir.c) and passes
 * the fd with the request; imaged reads or writes it and never opens a
 * path. A failed export leaves no partial file behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "crispctl/crispctl.h"
#include "cri.pb-c.h"
#include "crisp.pb-c.h"

#define TAGS_MAX 64

/* A compressed archive is refused here with a hint (imaged reads tar only). */
static int compressed_check(int fd, const char *src)
{
	unsigned char m[4];
	ssize_t n = pread(fd, m, sizeof m, 0);
	if (n == 4 && ((m[0] == 0x1f && m[1] == 0x8b) ||
		       (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)))
		return ctl_fail("%s is compressed (%s): decompress it first, imaged reads plain tar",
				src, m[0] == 0x1f ? "gzip" : "zstd");
	return 0;
}

/* The fd to pass for src: stdin, a layout directory's tar stream, or the file. */
static int source_open(const char *src, int *ret_fd, int *ret_pid)
{
	struct stat st;
	*ret_pid = -1;
	if (!strcmp(src, "-")) {
		*ret_fd = dup(STDIN_FILENO);
		return *ret_fd < 0 ? ctl_fail("stdin: %s", strerror(errno)) : 0;
	}
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return ctl_fail("%s: %s", src, strerror(e));
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		int r = layout_dir_stream(src, ret_fd, ret_pid);
		return r < 0 ? ctl_fail("%s: streaming the layout: %s", src, strerror(-r)) : 0;
	}
	if (S_ISREG(st.st_mode) && compressed_check(fd, src) != 0) {
		close(fd);
		return CTL_EXIT_FAIL;
	}
	*ret_fd = fd;
	return 0;
}

int ctl_image_import(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tag", required_argument, NULL, 't' },
		{ 0 },
	};
	static const char use[] = "image import FILE|DIR|- [--tag NAME:TAG]...";
	char *tags[TAGS_MAX];
	size_t n_tags = 0;
	int o, fd = -1, pid = -1;
	while ((o = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		if (o != 't' || n_tags == TAGS_MAX)
			return ctl_usage(use);
		tags[n_tags++] = optarg;
	}
	if (argc - optind != 1)
		return ctl_usage(use);
	if (ctl_connect(c) < 0 || source_open(argv[optind], &fd, &pid) != 0)
		return CTL_EXIT_FAIL;
	Crisp__ImageImport rq = CRISP__IMAGE_IMPORT__INIT;
	Crisp__ImageImported *resp = NULL;
	rq.tags = tags;
	rq.n_tags = n_tags;
	int r = ctl_call(c, CRISP__MSG_TYPE__MSG_ADM_IMPORT, &rq.base, fd,
			 &crisp__image_imported__descriptor, (ProtobufCMessage **)&resp);
	close(fd);
	if (pid > 0 && layout_dir_wait(pid) < 0 && r == 0)
		r = -EIO;       /* imaged took a stream that was cut short */
	if (r < 0) {
		if (resp)
			protobuf_c_message_free_unpacked(&resp->base, NULL);
		return CTL_EXIT_FAIL;
	}
	for (size_t i = 0; i < resp->n_image_ids; i++)
		printf("Imported %s\n", resp->image_ids[i]);
	for (size_t i = 0; i < resp->n_repo_tags; i++)
		printf("Tagged %s\n", resp->repo_tags[i]);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

int ctl_image_export(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ 0 },
	};
	static const char use[] = "image export [-o FILE] IMAGE...";
	const char *out = NULL;
	int o, fd;
	while ((o = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (o != 'o')
			return ctl_usage(use);
		out = optarg;
	}
	if (optind >= argc)
		return ctl_usage(use);
	if ((!out || !strcmp(out, "-")) && isatty(STDOUT_FILENO))
		return ctl_fail("refusing to write an archive to a terminal: use -o FILE");
	if (ctl_connect(c) < 0)
		return CTL_EXIT_FAIL;
	bool to_file = out && strcmp(out, "-") != 0;
	fd = to_file ? open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : STDOUT_FILENO;
	if (fd < 0)
		return ctl_fail("%s: %s", out, strerror(errno));
	Crisp__ImageExport rq = CRISP__IMAGE_EXPORT__INIT;
	Crisp__ImageExported *resp = NULL;
	rq.images = argv + optind;
	rq.n_images = (size_t)(argc - optind);
	int r = ctl_call(c, CRISP__MSG_TYPE__MSG_ADM_EXPORT, &rq.base, fd,
			 &crisp__image_exported__descriptor, (ProtobufCMessage **)&resp);
	if (to_file && r == 0 && fsync(fd) < 0) {
		ctl_fail("%s: %s", out, strerror(errno));
		r = -EIO;
	}
	if (to_file) {
		close(fd);
		if (r < 0)
			unlink(out);
	}
	if (r < 0)
		return CTL_EXIT_FAIL;
	if (to_file)
		printf("Exported %llu bytes to %s\n", (unsigned long long)resp->bytes, out);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

int ctl_image_push(struct ctl *c, int argc, char **argv)
{
	Runtime__V1__AuthConfig auth = RUNTIME__V1__AUTH_CONFIG__INIT;
	Crisp__ImagePush rq = CRISP__IMAGE_PUSH__INIT;
	Crisp__ImagePushed *resp = NULL;
	bool have_auth;
	int left;
	if (ctl_parse_user(argc, argv, &auth, &have_auth) < 0 || (left = argc - optind) < 1 ||
	    left > 2)
		return ctl_usage("image push IMAGE [DESTINATION] [--user USER:PASSWORD]");
	rq.image = argv[optind];
	rq.destination = left == 2 ? argv[optind + 1] : "";
	rq.auth = have_auth ? &auth : NULL;
	if (ctl_connect(c) < 0)
		return CTL_EXIT_FAIL;
	if (ctl_call(c, CRISP__MSG_TYPE__MSG_ADM_PUSH, &rq.base, -1,
		     &crisp__image_pushed__descriptor, (ProtobufCMessage **)&resp) < 0)
		return CTL_EXIT_FAIL;
	printf("Pushed %s: %s\n", left == 2 ? argv[optind + 1] : argv[optind], resp->digest);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return CTL_EXIT_OK;
}

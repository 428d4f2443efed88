/*
 * oci/user: process.user, the ids the container's process runs with, as
 * containerd 1.7/2.0's CRI plugin resolves them (generateUserString,
 * oci.WithUser/WithUserID/WithUsername, WithAdditionalGIDs, and 2.0's
 * SupplementalGroupsPolicy):
 *
 *   - the user: run_as_username (wins over run_as_user), else run_as_user,
 *     each with run_as_group as the group; run_as_group alone is refused;
 *     without any of them the image's User ("name", "uid", "name:group",
 *     "uid:gid", "uid:group", "name:gid"); without that 0:0.
 *   - a name is looked up in the image's /etc/passwd (a missing user or
 *     file: INVALID_ARGUMENT); a lone uid takes its gid from /etc/passwd,
 *     or 0 when it has no entry (or there is no file); "uid:gid" looks up
 *     nothing; a group name is looked up in /etc/group. An empty part of
 *     "a:b" is 0, as in containerd.
 *   - additionalGids: the primary gid, then with policy Merge (the
 *     default) the gids of the /etc/group entries that list the user by
 *     name (not the group named as the user) and the security context's
 *     supplemental_groups; with Strict the supplemental groups only.
 *     Sorted, without duplicates, as containerd's mergeGids makes them.
 *   - every id is 0..2^31-1, as containerd (following runc) requires.
 *
 * The files are read only when a name must be resolved, through
 * oci/passwd (capped, inside the rootfs). Never logs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sandboxd/oci/spec_int.h"

#define SC_FIELD "config.linux.security_context"

/* One side of "user:group". */
struct idspec {
	bool set;
	bool numeric;
	uint32_t id;
	char name[OCISPEC_MAX_NAME];
};

struct user_ctx {
	struct ocispec *s;
	struct ocispec_userdb passwd, group;
	const char *what;               /* where the user string came from, for errors */
};

/* Parse one part of a user string; "" is the numeric 0 (containerd). */
static int parse_part(struct user_ctx *u, const char *p, size_t n, struct idspec *ret)
{
	ret->set = true;
	if (n == 0) {
		ret->numeric = true;
		ret->id = 0;
		return 0;
	}
	if (n >= sizeof ret->name)
		return OCISPEC_INVALID(u->s, "%s: name too long", u->what);
	bool digits = true;
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			digits = false;
	if (digits) {
		uint64_t v = 0;
		for (size_t i = 0; i < n && v <= OCISPEC_ID_MAX; i++)
			v = v * 10 + (uint64_t)(p[i] - '0');
		if (v > OCISPEC_ID_MAX)
			return OCISPEC_INVALID(u->s, "%s: id out of range (0..%u)", u->what,
					       OCISPEC_ID_MAX);
		ret->numeric = true;
		ret->id = (uint32_t)v;
		return 0;
	}
	if (memchr(p, '\n', n))
		return OCISPEC_INVALID(u->s, "%s: invalid name", u->what);
	ret->numeric = false;
	memcpy(ret->name, p, n);
	ret->name[n] = '\0';
	return 0;
}

static int parse_user_string(struct user_ctx *u, const char *str, struct idspec *user,
			     struct idspec *group)
{
	const char *colon = strchr(str, ':');
	if (colon && strchr(colon + 1, ':'))
		return OCISPEC_INVALID(u->s, "%s: invalid user \"%s\"", u->what, str);
	int r = parse_part(u, str, colon ? (size_t)(colon - str) : strlen(str), user);
	if (r >= 0 && colon)
		r = parse_part(u, colon + 1, strlen(colon + 1), group);
	return r;
}

static int check_id(struct ocispec *s, int64_t v, const char *field)
{
	if (v < 0 || v > (int64_t)OCISPEC_ID_MAX)
		return OCISPEC_INVALID(s, "%s: %" PRId64 " out of range (0..%u)", field, v,
				       OCISPEC_ID_MAX);
	return 0;
}

/* Load a file that must be there to resolve name; INVALID_ARGUMENT when
 * it is not. */
static int need_db(struct user_ctx *u, const char *path, struct ocispec_userdb *db,
		   const char *name)
{
	int r = ocispec_userdb_load(u->s, path, db);
	if (r == -ENOENT)
		return OCISPEC_INVALID(u->s, "%s: \"%s\" cannot be resolved: the image has no /%s",
				       u->what, name, path);
	return r;
}

/* passwd line of the user by name (field 0) or uid (field 2): 1 found
 * (uid, gid, name filled), 0 not found, <0 error. */
static int passwd_find(struct user_ctx *u, const struct idspec *who, uint32_t *ret_uid,
		       uint32_t *ret_gid, char *ret_name, size_t name_len)
{
	struct ocispec_userdb_line l;
	for (size_t pos = 0; ocispec_userdb_next(&u->passwd, &pos, &l) > 0;) {
		uint32_t uid, gid;
		if (ocispec_userdb_field_id(&l, 2, &uid) < 0 || ocispec_userdb_field_id(&l, 3, &gid) < 0)
			continue;       /* malformed: never read as root */
		if (who->numeric ? uid != who->id : !ocispec_userdb_field_is(&l, 0, who->name))
			continue;
		if (uid > OCISPEC_ID_MAX || gid > OCISPEC_ID_MAX)
			return OCISPEC_INVALID(u->s, "%s: the image's /etc/passwd gives an id out of "
					       "range (0..%u)", u->what, OCISPEC_ID_MAX);
		*ret_uid = uid;
		*ret_gid = gid;
		if (ret_name) {
			size_t n = l.len[0] < name_len - 1 ? l.len[0] : name_len - 1;
			memcpy(ret_name, l.f[0], n);
			ret_name[n] = '\0';
		}
		return 1;
	}
	return 0;
}

static int resolve_group(struct user_ctx *u, const struct idspec *g, uint32_t *ret)
{
	if (g->numeric) {
		*ret = g->id;
		return 0;
	}
	int r = need_db(u, "etc/group", &u->group, g->name);
	if (r < 0)
		return r;
	struct ocispec_userdb_line l;
	for (size_t pos = 0; ocispec_userdb_next(&u->group, &pos, &l) > 0;) {
		uint32_t gid;
		if (!ocispec_userdb_field_is(&l, 0, g->name) || ocispec_userdb_field_id(&l, 2, &gid) < 0)
			continue;
		if (gid > OCISPEC_ID_MAX)
			return OCISPEC_INVALID(u->s, "%s: the image's /etc/group gives group \"%s\" an "
					       "id out of range", u->what, g->name);
		*ret = gid;
		return 0;
	}
	return OCISPEC_INVALID(u->s, "%s: group \"%s\" not found in the image's /etc/group",
			       u->what, g->name);
}

static int resolve_user(struct user_ctx *u, const struct idspec *user,
			const struct idspec *group)
{
	struct ocispec *s = u->s;
	uint32_t uid = 0, gid = 0;
	int r;
	if (!user->set) {
		/* no user anywhere: root */
	} else if (!user->numeric) {
		r = need_db(u, "etc/passwd", &u->passwd, user->name);
		if (r < 0)
			return r;
		r = passwd_find(u, user, &uid, &gid, NULL, 0);
		if (r < 0)
			return r;
		if (r == 0)
			return OCISPEC_INVALID(s, "%s: user \"%s\" not found in the image's /etc/passwd",
					       u->what, user->name);
	} else {
		uid = user->id;
		if (!group->set) {
			r = ocispec_userdb_load(s, "etc/passwd", &u->passwd);
			if (r < 0 && r != -ENOENT)
				return r;
			uint32_t puid;
			r = passwd_find(u, user, &puid, &gid, NULL, 0);
			if (r < 0)
				return r;
			if (r == 0)
				gid = 0;        /* containerd's WithUserID */
		}
	}
	if (group->set) {
		r = resolve_group(u, group, &gid);
		if (r < 0)
			return r;
	}
	s->uid = uid;
	s->gid = gid;
	return 0;
}

static int add_gid(struct ocispec *s, uint32_t gid)
{
	for (size_t i = 0; i < s->n_groups; i++)
		if (s->groups[i] == gid)
			return 0;
	if (s->n_groups >= OCISPEC_MAX_GROUPS)
		return OCISPEC_INVALID(s, "the process would have more than %u groups",
				       OCISPEC_MAX_GROUPS);
	uint32_t *g = realloc(s->groups, (s->n_groups + 1) * sizeof *g);
	if (!g)
		return ocispec_nomem(s);
	s->groups = g;
	s->groups[s->n_groups++] = gid;
	return 0;
}

/* The /etc/group entries that list name as a member (containerd's
 * WithAdditionalGIDs: not the group that has the user's own name). */
static int add_member_groups(struct user_ctx *u, const char *name)
{
	int r = ocispec_userdb_load(u->s, "etc/group", &u->group);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	size_t nlen = strlen(name);
	struct ocispec_userdb_line l;
	for (size_t pos = 0; ocispec_userdb_next(&u->group, &pos, &l) > 0;) {
		uint32_t gid;
		if (l.n < 4 || ocispec_userdb_field_is(&l, 0, name) ||
		    ocispec_userdb_field_id(&l, 2, &gid) < 0 || gid > OCISPEC_ID_MAX)
			continue;
		for (const char *m = l.f[3], *end = l.f[3] + l.len[3]; m < end;) {
			const char *comma = memchr(m, ',', (size_t)(end - m));
			const char *me = comma ? comma : end;
			if ((size_t)(me - m) == nlen && memcmp(m, name, nlen) == 0) {
				r = add_gid(u->s, gid);
				if (r < 0)
					return r;
				break;
			}
			m = me + 1;
		}
	}
	return 0;
}

/* Merge: the user whose /etc/group memberships count, as containerd names
 * it: run_as_username, else run_as_user, else the image User's user part,
 * else "0"; a uid is turned into a name through /etc/passwd (none: no
 * groups from the file). */
static int merge_file_groups(struct user_ctx *u, const struct idspec *user)
{
	struct idspec who = { .set = true, .numeric = true, .id = 0 };
	if (user->set)
		who = *user;
	char name[OCISPEC_MAX_NAME];
	if (who.numeric) {
		int r = ocispec_userdb_load(u->s, "etc/passwd", &u->passwd);
		if (r == -ENOENT)
			return 0;
		if (r < 0)
			return r;
		uint32_t uid, gid;
		r = passwd_find(u, &who, &uid, &gid, name, sizeof name);
		if (r <= 0)
			return r;
	} else {
		snprintf(name, sizeof name, "%s", who.name);
	}
	return name[0] ? add_member_groups(u, name) : 0;
}

static int cmp_gid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int resolve_groups(struct user_ctx *u, const struct idspec *user)
{
	struct ocispec *s = u->s;
	const Runtime__V1__LinuxContainerSecurityContext *sc = s->sc;
	int r = add_gid(s, s->gid);
	if (r < 0)
		return r;
	int policy = sc ? (int)sc->supplemental_groups_policy : RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Merge;
	if (policy == RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Merge) {
		r = merge_file_groups(u, user);
		if (r < 0)
			return r;
	} else if (policy != RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict) {
		return OCISPEC_INVALID(s, SC_FIELD ".supplemental_groups_policy: unknown policy %d",
				       policy);
	}
	if (sc && sc->n_supplemental_groups > OCISPEC_MAX_GROUPS)
		return OCISPEC_INVALID(s, SC_FIELD ".supplemental_groups: more than %u",
				       OCISPEC_MAX_GROUPS);
	for (size_t i = 0; sc && i < sc->n_supplemental_groups; i++) {
		char field[96];
		snprintf(field, sizeof field, SC_FIELD ".supplemental_groups[%zu]", i);
		r = check_id(s, sc->supplemental_groups[i], field);
		if (r >= 0)
			r = add_gid(s, (uint32_t)sc->supplemental_groups[i]);
		if (r < 0)
			return r;
	}
	qsort(s->groups, s->n_groups, sizeof *s->groups, cmp_gid);
	return 0;
}

/* The user asked for, as containerd's generateUserString, else the
 * image's User. */
static int pick_user(struct user_ctx *u, struct idspec *user, struct idspec *group)
{
	struct ocispec *s = u->s;
	const Runtime__V1__LinuxContainerSecurityContext *sc = s->sc;
	const char *username = sc ? ocispec_str(sc->run_as_username) : "";
	const Runtime__V1__Int64Value *ru = sc ? sc->run_as_user : NULL;
	const Runtime__V1__Int64Value *rg = sc ? sc->run_as_group : NULL;
	int r;
	if (rg && !ru && !username[0])
		return OCISPEC_INVALID(s, SC_FIELD ".run_as_group: set without run_as_user or "
				       "run_as_username");
	if (ru && (r = check_id(s, ru->value, SC_FIELD ".run_as_user")) < 0)
		return r;
	if (rg && (r = check_id(s, rg->value, SC_FIELD ".run_as_group")) < 0)
		return r;
	if (username[0]) {
		u->what = SC_FIELD ".run_as_username";
		if (strchr(username, ':') || strchr(username, '\n'))
			return OCISPEC_INVALID(s, "%s: invalid name", u->what);
		if (strlen(username) >= sizeof user->name)
			return OCISPEC_INVALID(s, "%s: name too long", u->what);
		/* a name, even if made of digits: looked up by name */
		user->set = true;
		user->numeric = false;
		snprintf(user->name, sizeof user->name, "%s", username);
	} else if (ru) {
		u->what = SC_FIELD ".run_as_user";
		*user = (struct idspec){ .set = true, .numeric = true, .id = (uint32_t)ru->value };
	} else {
		const char *img = ocispec_str(s->image->user);
		u->what = "image config User";
		if (img[0])
			return parse_user_string(u, img, user, group);
		return 0;
	}
	if (rg)
		*group = (struct idspec){ .set = true, .numeric = true, .id = (uint32_t)rg->value };
	return 0;
}

static int emit(struct ocispec *s, json_object *process)
{
	json_object *user = json_object_new_object();
	if (!user)
		return ocispec_nomem(s);
	json_object *gids = json_object_new_array();
	int r = gids ? 0 : -ENOMEM;
	for (size_t i = 0; r >= 0 && i < s->n_groups; i++)
		r = ocispec_push(gids, json_object_new_int64(s->groups[i]));
	if (r >= 0)
		r = ocispec_set_int(user, "uid", s->uid);
	if (r >= 0)
		r = ocispec_set_int(user, "gid", s->gid);
	if (r >= 0) {
		r = ocispec_set(user, "additionalGids", gids);
		gids = NULL;
	}
	json_object_put(gids);
	if (r >= 0)
		r = ocispec_set(process, "user", user);
	else
		json_object_put(user);
	return r < 0 ? ocispec_nomem(s) : 0;
}

int ocispec_user(struct ocispec *s, json_object *process)
{
	struct user_ctx u = { .s = s, .what = "user" };
	struct idspec user = { 0 }, group = { 0 };
	int r = pick_user(&u, &user, &group);
	if (r >= 0)
		r = resolve_user(&u, &user, &group);
	if (r >= 0)
		r = resolve_groups(&u, &user);
	if (r >= 0)
		r = emit(s, process);
	ocispec_userdb_free(&u.passwd);
	ocispec_userdb_free(&u.group);
	return r;
}

/*
 * acl.c — token and ACL files (acl.h): parsing, authentication,
 * authorization. Small tables scanned linearly: deployments that need
 * thousands of rules want an index, which this does not have yet.
 */
#include "broker/acl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

typedef struct acl_token {
	char  *token;
	size_t len;
	char  *principal;
} acl_token_t;

typedef struct acl_rule {
	char          *principal;   /* "*": any */
	unsigned       ops;         /* acl_op_t bits granted, implications applied */
	acl_resource_t type;
	char          *pattern;     /* without a trailing '*' */
	int            prefix;      /* pattern ended in '*' */
} acl_rule_t;

struct acl {
	acl_token_t *tokens;
	size_t       ntokens;
	acl_rule_t  *rules;
	size_t       nrules;
	int          enforced;
};

void acl_free(acl_t *acl)
{
	size_t i;

	if (acl == NULL)
		return;
	for (i = 0; i < acl->ntokens; i++) {
		explicit_bzero(acl->tokens[i].token, acl->tokens[i].len);
		free(acl->tokens[i].token);
		free(acl->tokens[i].principal);
	}
	for (i = 0; i < acl->nrules; i++) {
		free(acl->rules[i].principal);
		free(acl->rules[i].pattern);
	}
	free(acl->tokens);
	free(acl->rules);
	free(acl);
}

/* Split line into at most max whitespace-separated fields, in place. */
static int split_fields(char *line, char **fields, int max)
{
	int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == max)
			return max + 1;
		fields[n++] = tok;
	}
	return n;
}

static int principal_valid(const char *p)
{
	size_t n = strlen(p);

	if (n == 0 || n > ACL_MAX_PRINCIPAL)
		return 0;
	for (; *p; p++)
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return 0;
	return 1;
}

static int parse_op(const char *s, unsigned *ops)
{
	if (strcmp(s, "read") == 0)
		*ops = ACL_READ | ACL_DESCRIBE;
	else if (strcmp(s, "write") == 0)
		*ops = ACL_WRITE | ACL_DESCRIBE;
	else if (strcmp(s, "describe") == 0)
		*ops = ACL_DESCRIBE;
	else if (strcmp(s, "admin") == 0)
		*ops = ACL_READ | ACL_WRITE | ACL_DESCRIBE | ACL_ADMIN;
	else if (strcmp(s, "cluster_action") == 0)
		*ops = ACL_CLUSTER_ACTION;
	else
		return -1;
	return 0;
}

static int parse_type(const char *s, acl_resource_t *type)
{
	if (strcmp(s, "topic") == 0)
		*type = ACL_TOPIC;
	else if (strcmp(s, "group") == 0)
		*type = ACL_GROUP;
	else if (strcmp(s, "cluster") == 0)
		*type = ACL_CLUSTER;
	else
		return -1;
	return 0;
}

typedef int (*acl_line_fn)(acl_t *acl, char **fields, int n, char *why, size_t whylen);

static int token_line(acl_t *acl, char **f, int n, char *why, size_t whylen)
{
	acl_token_t *t;
	size_t len;

	if (n != 2) {
		snprintf(why, whylen, "want `TOKEN PRINCIPAL`");
		return STRAND_EINVAL;
	}
	len = strlen(f[0]);
	if (len < ACL_MIN_TOKEN || len > ACL_MAX_TOKEN) {
		snprintf(why, whylen, "a token must have %d to %d characters", ACL_MIN_TOKEN,
		         ACL_MAX_TOKEN);
		return STRAND_EINVAL;
	}
	if (!principal_valid(f[1]) || strcmp(f[1], "*") == 0) {
		snprintf(why, whylen, "bad principal name");
		return STRAND_EINVAL;
	}
	for (size_t i = 0; i < acl->ntokens; i++)
		if (acl->tokens[i].len == len && memcmp(acl->tokens[i].token, f[0], len) == 0) {
			snprintf(why, whylen, "the same token twice");
			return STRAND_EINVAL;
		}
	t = realloc(acl->tokens, (acl->ntokens + 1) * sizeof *t);
	if (t == NULL)
		return STRAND_ENOMEM;
	acl->tokens = t;
	t = &acl->tokens[acl->ntokens];
	t->token = strdup(f[0]);
	t->principal = strdup(f[1]);
	t->len = len;
	if (t->token == NULL || t->principal == NULL) {
		free(t->token);
		free(t->principal);
		return STRAND_ENOMEM;
	}
	acl->ntokens++;
	return 0;
}

static int rule_line(acl_t *acl, char **f, int n, char *why, size_t whylen)
{
	acl_rule_t r, *rules;
	const char *star;
	size_t plen;

	memset(&r, 0, sizeof r);
	if (n != 4) {
		snprintf(why, whylen, "want `PRINCIPAL OPERATION RESOURCE_TYPE PATTERN`");
		return STRAND_EINVAL;
	}
	if (!principal_valid(f[0])) {
		snprintf(why, whylen, "bad principal name");
		return STRAND_EINVAL;
	}
	if (parse_op(f[1], &r.ops) != 0) {
		snprintf(why, whylen, "operation must be read, write, describe, admin or "
		         "cluster_action, not %.32s", f[1]);
		return STRAND_EINVAL;
	}
	if (parse_type(f[2], &r.type) != 0) {
		snprintf(why, whylen, "resource type must be topic, group or cluster, not %.32s", f[2]);
		return STRAND_EINVAL;
	}
	if (r.ops == ACL_CLUSTER_ACTION && r.type != ACL_CLUSTER) {
		snprintf(why, whylen, "cluster_action is an operation on the cluster only");
		return STRAND_EINVAL;
	}
	plen = strlen(f[3]);
	star = strchr(f[3], '*');
	if (plen > 249 || (star != NULL && star != f[3] + plen - 1)) {
		snprintf(why, whylen, "a pattern is a name, or a prefix ending in one `*`");
		return STRAND_EINVAL;
	}
	r.prefix = plen > 0 && f[3][plen - 1] == '*';
	r.principal = strdup(f[0]);
	r.pattern = strndup(f[3], r.prefix ? plen - 1 : plen);
	rules = realloc(acl->rules, (acl->nrules + 1) * sizeof *rules);
	if (r.principal == NULL || r.pattern == NULL || rules == NULL) {
		free(r.principal);
		free(r.pattern);
		if (rules != NULL)
			acl->rules = rules;
		return STRAND_ENOMEM;
	}
	acl->rules = rules;
	acl->rules[acl->nrules++] = r;
	return 0;
}

/* Read path line by line through fn; errors name the file and the line. */
static int load_file(acl_t *acl, const char *path, int max_fields, acl_line_fn fn,
                     char *err, size_t errlen)
{
	char line[ACL_MAX_LINE + 2], why[160];
	char *fields[5];
	FILE *f = fopen(path, "r");
	int lineno = 0, n, rc = 0;

	if (f == NULL)
		return strand_err_set(err, errlen, STRAND_EIO, "cannot read %s: %s", path,
		                      strerror(errno));
	while (fgets(line, sizeof line, f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			rc = strand_err_set(err, errlen, STRAND_EINVAL, "%s:%d: line longer than %d bytes",
			                    path, lineno, ACL_MAX_LINE);
			break;
		}
		n = split_fields(line, fields, max_fields);
		if (n == 0 || fields[0][0] == '#')
			continue;
		why[0] = '\0';
		rc = fn(acl, fields, n, why, sizeof why);
		if (rc == STRAND_ENOMEM) {
			rc = strand_err_set(err, errlen, rc, "out of memory");
			break;
		}
		if (rc) {
			rc = strand_err_set(err, errlen, rc, "%s:%d: %s", path, lineno, why);
			break;
		}
	}
	fclose(f);
	explicit_bzero(line, sizeof line);
	return rc;
}

int acl_load(const char *auth_path, const char *acl_path, acl_t **out,
             char *err, size_t errlen)
{
	acl_t *acl = calloc(1, sizeof *acl);
	int rc;

	*out = NULL;
	if (acl == NULL)
		return strand_err_set(err, errlen, STRAND_ENOMEM, "out of memory");
	rc = load_file(acl, auth_path, 2, token_line, err, errlen);
	if (rc == 0 && acl->ntokens == 0)
		rc = strand_err_set(err, errlen, STRAND_EINVAL, "%s holds no token", auth_path);
	if (rc == 0 && acl_path != NULL) {
		acl->enforced = 1;
		rc = load_file(acl, acl_path, 4, rule_line, err, errlen);
	}
	if (rc) {
		acl_free(acl);
		return rc;
	}
	*out = acl;
	return 0;
}

const char *acl_authenticate(const acl_t *acl, const char *token, size_t token_len)
{
	const char *found = NULL;

	/* Every entry is compared whole, so timing tells nothing of prefixes. */
	for (size_t i = 0; i < acl->ntokens; i++) {
		const acl_token_t *t = &acl->tokens[i];
		unsigned char diff = t->len == token_len ? 0 : 1;
		size_t n = t->len < token_len ? t->len : token_len;

		for (size_t k = 0; k < n; k++)
			diff |= (unsigned char)(t->token[k] ^ token[k]);
		if (diff == 0)
			found = t->principal;
	}
	return found;
}

static int rule_matches(const acl_rule_t *r, const char *principal, acl_resource_t type,
                        const char *name)
{
	if (r->type != type)
		return 0;
	if (strcmp(r->principal, "*") != 0 && strcmp(r->principal, principal) != 0)
		return 0;
	if (type == ACL_CLUSTER)
		return 1;
	if (name == NULL)
		return 0;
	if (r->prefix)
		return strncmp(name, r->pattern, strlen(r->pattern)) == 0;
	return strcmp(name, r->pattern) == 0;
}

int acl_allows(const acl_t *acl, const char *principal, acl_op_t op, acl_resource_t type,
               const char *name)
{
	if (principal == NULL)
		return 0;
	if (!acl->enforced)
		return 1;
	for (size_t i = 0; i < acl->nrules; i++)
		if ((acl->rules[i].ops & (unsigned)op) && rule_matches(&acl->rules[i], principal, type, name))
			return 1;
	return 0;
}

int acl_knows_principal(const acl_t *acl, const char *principal)
{
	for (size_t i = 0; i < acl->ntokens; i++)
		if (strcmp(acl->tokens[i].principal, principal) == 0)
			return 1;
	return 0;
}

size_t acl_token_count(const acl_t *acl) { return acl->ntokens; }
size_t acl_rule_count(const acl_t *acl) { return acl->nrules; }
int    acl_enforced(const acl_t *acl) { return acl->enforced; }

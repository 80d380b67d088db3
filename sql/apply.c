/*
 * galley-sql: apply the data definitions under sql/<service>/, every *.json file, to
 * the database galley_<service>.
 *
 * Each file holds {"commands": [ ... ]}: MongoDB database commands in
 * extended JSON (createIndexes, insert of seed data, dropIndexes of an index
 * an older galley made, ...), run in file order.  Everything is idempotent:
 * createIndexes of an existing index is a no-op, a seed document whose _id
 * exists already is left alone (duplicate-key write errors are expected and
 * skipped), and a dropIndexes whose index or collection is not there has
 * nothing left to do (see already_done).
 *
 * Keep one index per createIndexes command: FerretDB 1.24 crashes when a
 * command naming two indexes is applied again to existing data.
 *
 * usage: galley-sql [-p] MONGO_URI SQL_DIR
 *   -p  print each command's reply on stdout, one line of relaxed extended JSON
 *       each (tests read the database through it: listIndexes, find)
 */
#include <dirent.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
write_errors_ok(const bson_t *reply, const char *file)
{
	bson_iter_t it, err, code;
	int ok = 1;

	if (!bson_iter_init_find(&it, reply, "writeErrors") || !bson_iter_recurse(&it, &err))
		return 1;
	while (bson_iter_next(&err)) {
		bson_iter_t e;
		if (!bson_iter_recurse(&err, &e))
			continue;
		if (bson_iter_find_descendant(&e, "code", &code) &&
		    bson_iter_as_int64(&code) == 11000)
			continue; /* seed already present */
		char *s = bson_as_relaxed_extended_json(reply, NULL);
		fprintf(stderr, "galley-sql: %s: %s\n", file, s);
		bson_free(s);
		ok = 0;
		break;
	}
	return ok;
}

/*
 * A command that failed because its work is done already: a dropIndexes whose index
 * (27 IndexNotFound) or collection (26 NamespaceNotFound) does not exist.  mongod and
 * FerretDB answer both codes alike.
 */
static int
already_done(const bson_t *cmd, const bson_error_t *error)
{
	bson_iter_t it;

	if (error->domain != MONGOC_ERROR_SERVER || !bson_iter_init(&it, cmd) ||
	    !bson_iter_next(&it))
		return 0;
	if (strcmp(bson_iter_key(&it), "dropIndexes") == 0)
		return error->code == 26 || error->code == 27;
	return 0;
}

static int
apply_file(mongoc_database_t *db, const char *path, int print)
{
	bson_error_t error;
	bson_iter_t it, cmds;
	bson_t *file;
	char *text;
	long n;
	int ok = 1;
	FILE *f = fopen(path, "rb");

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "galley-sql: cannot read %s\n", path);
		if (f)
			fclose(f);
		return 0;
	}
	text = malloc((size_t)n + 1);
	if (text == NULL || fread(text, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(text);
		return 0;
	}
	fclose(f);
	text[n] = '\0';
	file = bson_new_from_json((const uint8_t *)text, n, &error);
	free(text);
	if (file == NULL) {
		fprintf(stderr, "galley-sql: %s: %s\n", path, error.message);
		return 0;
	}
	if (!bson_iter_init_find(&it, file, "commands") || !BSON_ITER_HOLDS_ARRAY(&it) ||
	    !bson_iter_recurse(&it, &cmds)) {
		fprintf(stderr, "galley-sql: %s: no \"commands\" array\n", path);
		bson_destroy(file);
		return 0;
	}
	while (ok && bson_iter_next(&cmds)) {
		const uint8_t *data;
		uint32_t len;
		bson_t cmd, reply;

		if (!BSON_ITER_HOLDS_DOCUMENT(&cmds)) {
			fprintf(stderr, "galley-sql: %s: a command is not an object\n", path);
			ok = 0;
			break;
		}
		bson_iter_document(&cmds, &len, &data);
		if (!bson_init_static(&cmd, data, len)) {
			ok = 0;
			break;
		}
		if (!mongoc_database_command_simple(db, &cmd, NULL, &reply, &error)) {
			if (!already_done(&cmd, &error)) {
				fprintf(stderr, "galley-sql: %s: %s (code %u)\n", path,
				        error.message, error.code);
				ok = 0;
			}
		} else {
			ok = write_errors_ok(&reply, path);
		}
		if (print) {
			char *s = bson_as_relaxed_extended_json(&reply, NULL);
			if (s != NULL)
				printf("%s\n", s);
			bson_free(s);
		}
		bson_destroy(&reply);
	}
	bson_destroy(file);
	return ok;
}

static int
by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int
json_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n > 5 && strcmp(d->d_name + n - 5, ".json") == 0;
}

static int
sub_dir(const struct dirent *d)
{
	return d->d_name[0] != '.' && d->d_type == DT_DIR;
}

int
main(int argc, char **argv)
{
	struct dirent **svcs, **files;
	mongoc_client_t *client;
	bson_error_t error;
	char path[4096], dbname[300];
	int nsvc, ok = 1, print = 0;

	if (argc == 4 && strcmp(argv[1], "-p") == 0) {
		print = 1;
		argv++;
		argc--;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: galley-sql [-p] MONGO_URI SQL_DIR\n");
		return 2;
	}
	mongoc_init();
	client = mongoc_client_new(argv[1]);
	if (client == NULL) {
		fprintf(stderr, "galley-sql: not a MongoDB URI\n");
		return 2;
	}
	mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);
	if ((nsvc = scandir(argv[2], &svcs, sub_dir, by_name)) < 0) {
		fprintf(stderr, "galley-sql: cannot list %s\n", argv[2]);
		return 2;
	}
	for (int i = 0; i < nsvc; i++) {
		snprintf(path, sizeof(path), "%s/%s", argv[2], svcs[i]->d_name);
		int nf = scandir(path, &files, json_file, by_name);
		snprintf(dbname, sizeof(dbname), "galley_%s", svcs[i]->d_name);
		mongoc_database_t *db = mongoc_client_get_database(client, dbname);
		for (int j = 0; j < nf; j++) {
			snprintf(path, sizeof(path), "%s/%s/%s", argv[2], svcs[i]->d_name,
			         files[j]->d_name);
			if (ok && !apply_file(db, path, print))
				ok = 0;
			free(files[j]);
		}
		if (nf >= 0)
			free(files);
		mongoc_database_destroy(db);
		free(svcs[i]);
	}
	free(svcs);
	(void)error;
	mongoc_client_destroy(client);
	mongoc_cleanup();
	return ok ? 0 : 1;
}

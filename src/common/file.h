/*
 * file.h — small file-system helpers shared by the log and the broker.
 */
#ifndef STRAND_COMMON_FILE_H
#define STRAND_COMMON_FILE_H

#include <fcntl.h>
#include <unistd.h>

/* fsync a directory, so renames and unlinks in it are durable. 0, or -1
 * with errno set. */
static inline int file_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Saving a VM into a snapshot file and restoring one (see snapshot.h): the
 * glue between the VM (vm.c), KVM's state ioctls (arch/x86/vcpu_state.c),
 * the devices' state and the file format (snapshot_fmt.c).
 */
#include "vmm/snapshot.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/file.h"
#include "vmm/vm.h"

/* The state tree is read whole into memory: bound what a file can ask for
 * (254 vCPUs at ~40 KiB each fit easily). */
#define SNAPSHOT_MAX_DTB (64u << 20)

static uint64_t align_page(uint64_t v)
{
	return (v + SNAPSHOT_PAGE - 1) & ~(SNAPSHOT_PAGE - 1);
}

/* The host's CPU as CPUID shows it: KVM passes the host's model and
 * features on to the guest, so a guest saved on one model may rely on
 * instructions another lacks. */
static void host_cpu_model(struct snapshot_cpu_model *m)
{
	unsigned int a = 0, b = 0, c = 0, d = 0;

	memset(m, 0, sizeof(*m));
	__get_cpuid(0, &a, &b, &c, &d);
	memcpy(m->vendor, &b, 4);
	memcpy(m->vendor + 4, &d, 4);
	memcpy(m->vendor + 8, &c, 4);
	__get_cpuid(1, &a, &b, &c, &d);
	m->signature = a;
	/* OSXSAVE (ecx 27) follows the OS's CR4, the hypervisor bit (ecx 31)
	 * how the host itself runs: neither is the model */
	m->features[0] = c & ~((1u << 27) | (1u << 31));
	m->features[1] = d;
}

static int check_cpu_model(const struct snapshot_cpu_model *saved, char *err, size_t errlen)
{
	struct snapshot_cpu_model host;

	host_cpu_model(&host);
	if (strcmp(saved->vendor, host.vendor) || saved->signature != host.signature)
		return err_set(err, errlen, -EINVAL,
			       "the snapshot was taken on another CPU model (%s, signature %#x; "
			       "this host: %s, %#x)",
			       saved->vendor, saved->signature, host.vendor, host.signature);
	if ((saved->features[0] & ~host.features[0]) || (saved->features[1] & ~host.features[1]))
		return err_set(err, errlen, -EINVAL,
			       "the snapshot's CPU has features this host lacks (CPUID 1 ecx "
			       "%#x edx %#x)",
			       saved->features[0] & ~host.features[0],
			       saved->features[1] & ~host.features[1]);
	return 0;
}

/* ------------------------------------------------------------------ save */

/* Write a region's pages that hold data; zero pages stay holes. Pages the
 * host never committed (mincore) are zero in anonymous RAM and are not
 * even read; in RAM mapped from a snapshot they are the file's, so they
 * are read like the rest. */
static int write_region(int fd, const struct gm_region *r, uint64_t offset, bool anonymous)
{
	static const uint8_t zero[SNAPSHOT_PAGE];
	uint64_t npages = r->size / SNAPSHOT_PAGE, p = 0, run;
	unsigned char *vec = NULL;

	if (anonymous) {
		vec = malloc(npages);
		if (vec && mincore(r->host, r->size, vec) < 0) {
			free(vec);
			vec = NULL;
		}
	}
	while (p < npages) {
		if ((vec && !(vec[p] & 1)) ||
		    !memcmp(r->host + p * SNAPSHOT_PAGE, zero, sizeof(zero))) {
			p++;
			continue;
		}
		/* a run of data pages: one write */
		for (run = p + 1; run < npages; run++)
			if ((vec && !(vec[run] & 1)) ||
			    !memcmp(r->host + run * SNAPSHOT_PAGE, zero, sizeof(zero)))
				break;
		{
			const uint8_t *src = r->host + p * SNAPSHOT_PAGE;
			size_t len = (size_t)((run - p) * SNAPSHOT_PAGE);
			off_t at = (off_t)(offset + p * SNAPSHOT_PAGE);

			while (len) {
				ssize_t n = pwrite(fd, src, len, at);

				if (n < 0) {
					int e = errno;

					free(vec);
					return -e;
				}
				src += n;
				len -= (size_t)n;
				at += n;
			}
		}
		p = run;
	}
	free(vec);
	return 0;
}

/* The image as it is now: restore compares it with what the snapshot saw. */
static int disk_identity(const char *path, struct snapshot_disk *d, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	memset(d, 0, sizeof(*d));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* only fstat: base/file.h */
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return err_set(err, errlen, -e, "%s: %s", path, strerror(e));
	}
	d->size = (uint64_t)st.st_size;
	d->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
	if (pread(fd, d->header, sizeof(d->header), 0) < 0)
		memset(d->header, 0, sizeof(d->header));
	close(fd);
	return 0;
}

/* Each disk's transport and queues. A request still in flight is waited
 * for, up to a second (then the save fails and the VM goes on): the vCPUs
 * are paused, so no new one comes, and the disk's completions are taken
 * here (vm_virtio_poll), since the caller may be the event loop itself. */
static int save_virtio(struct vm *vm, struct snapshot_state *s, char *err, size_t errlen)
{
	unsigned int i, tries;
	int ret = 0;

	if (vm->nvirtio > SNAPSHOT_MAX_VIRTIO)
		return err_set(err, errlen, -E2BIG, "too many virtio devices");
	s->nvirtio = vm->nvirtio;
	for (i = 0; !ret && i < vm->nvirtio; i++) {
		for (tries = 0; tries < 1000; tries++) {
			uint8_t *be = NULL;
			size_t be_len = 0;
			int be_ver = 0;

			ret = vm_virtio_state_save(vm, i, &s->virtio[i], &be, &be_len, &be_ver, err,
						   errlen);
			s->backends[i] = (struct snapshot_backend){ .data = be,
								    .len = (uint32_t)be_len,
								    .version = (uint32_t)be_ver };
			if (ret != -EBUSY)
				break;
			free(be);
			s->backends[i].data = NULL;
			vm_virtio_poll(vm, i);
			usleep(1000);
		}
		if (!ret && i < vm->cfg->ndisks)
			ret = disk_identity(vm->cfg->disks[i].path, &s->disks[i], err, errlen);
	}
	return ret;
}

static int gather_state(struct vm *vm, struct snapshot_state *s, char *err, size_t errlen)
{
	uint32_t *msr_idx, nmsr = 0;
	unsigned int i;
	int ret;

	s->version = SNAPSHOT_VERSION;
	s->argc = vm->cfg->argc;
	s->argv = vm->cfg->argv;
	host_cpu_model(&s->model);
	msr_idx = calloc(X86_STATE_MAX_MSRS, sizeof(*msr_idx));
	s->cpus = calloc(vm->ncpus, sizeof(*s->cpus));
	if (!msr_idx || !s->cpus) {
		ret = err_set(err, errlen, -ENOMEM, "out of memory for the vCPU state");
		goto out;
	}
	s->ncpus = vm->ncpus;
	ret = x86_msr_index_list(vm->kvm_fd, msr_idx, X86_STATE_MAX_MSRS, &nmsr, err, errlen);
	for (i = 0; !ret && i < vm->ncpus; i++) {
		ret = x86_vcpu_complete_io(vm->vcpus[i].fd, vm->vcpus[i].run);
		if (ret) {
			err_set(err, errlen, ret, "vCPU %u: cannot complete its last I/O: %s", i,
				strerror(-ret));
			break;
		}
		ret = x86_vcpu_state_get(vm->vm_fd, vm->vcpus[i].fd, msr_idx, nmsr, &s->cpus[i],
					 err, errlen);
	}
	ret = ret ?: x86_vm_state_get(vm->vm_fd, &s->vm, err, errlen);
	if (ret)
		goto out;
	ret = save_virtio(vm, s, err, errlen);
	if (ret)
		goto out;
	serial_state_save(&vm->serial, &s->serial);
	rtc_state_save(&vm->rtc, &s->rtc);
	platform_state_save(&vm->platform, &s->platform);
	s->nregions = vm->mem.nregions;
	for (i = 0; i < vm->mem.nregions; i++) {
		s->regions[i].gpa = vm->mem.regions[i].gpa;
		s->regions[i].size = vm->mem.regions[i].size;
	}
out:
	free(msr_idx);
	return ret;
}

/* Build the tree twice: first to learn its size, then with the RAM
 * offsets that follow it (the offsets' cells do not change its size). */
static int build_with_offsets(struct snapshot_state *s, void **dtb, size_t *len, char *err,
			      size_t errlen)
{
	uint64_t off;
	unsigned int i;
	int ret;

	ret = snapshot_build(s, dtb, len, err, errlen);
	if (ret)
		return ret;
	free(*dtb);
	off = align_page(*len);
	for (i = 0; i < s->nregions; i++) {
		s->regions[i].offset = off;
		off += s->regions[i].size;
	}
	return snapshot_build(s, dtb, len, err, errlen);
}

static int write_file(struct vm *vm, const struct snapshot_state *s, const void *dtb, size_t len,
		      const char *tmp, char *err, size_t errlen)
{
	const struct snapshot_region *last = &s->regions[s->nregions - 1];
	unsigned int i;
	int fd, ret = 0;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return err_set(err, errlen, -errno, "cannot create %s: %s", tmp, strerror(errno));
	if (pwrite(fd, dtb, len, 0) != (ssize_t)len)
		ret = -(errno ?: EIO);
	for (i = 0; !ret && i < s->nregions; i++)
		ret = write_region(fd, &vm->mem.regions[i], s->regions[i].offset, !vm->incoming);
	/* the holes at the end too: the file's size covers all RAM */
	if (!ret && ftruncate(fd, (off_t)(last->offset + last->size)) < 0)
		ret = -errno;
	/* No fdatasync: the guest stays paused until the save returns, and
	 * the page cache already protects the file from a vmm that is killed
	 * next (QEMU's migrate to a file does not sync either). */
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (ret)
		err_set(err, errlen, ret, "cannot write %s: %s", tmp, strerror(-ret));
	return ret;
}

int vm_snapshot_save(struct vm *vm, const char *path, char *err, size_t errlen)
{
	struct snapshot_state s;
	char *tmp = NULL;
	void *dtb = NULL;
	size_t len;
	int ret;

	memset(&s, 0, sizeof(s));
	if (asprintf(&tmp, "%s.tmp", path) < 0)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	ret = gather_state(vm, &s, err, errlen);
	ret = ret ?: build_with_offsets(&s, &dtb, &len, err, errlen);
	ret = ret ?: write_file(vm, &s, dtb, len, tmp, err, errlen);
	if (!ret && rename(tmp, path) < 0)
		ret = err_set(err, errlen, -errno, "cannot rename %s to %s: %s", tmp, path,
			      strerror(errno));
	if (ret)
		unlink(tmp);
	free(dtb);
	free(tmp);
	free(s.cpus); /* s.argv is the VM's own */
	for (unsigned int i = 0; i < SNAPSHOT_MAX_VIRTIO; i++)
		free(s.backends[i].data);
	return ret;
}

/* --------------------------------------------------------------- restore */

int snapshot_open(const char *uri, struct snapshot_in *in, char *err, size_t errlen)
{
	struct fdt_header hdr;
	const char *path;
	struct stat st;
	uint32_t total;
	unsigned int i;
	void *buf;
	int ret;

	memset(in, 0, sizeof(*in));
	in->fd = -1;
	if (strncmp(uri, "file:", 5) || !uri[5])
		return err_set(err, errlen, -EINVAL, "%s: only file:PATH is supported", uri);
	path = uri + 5;
	in->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* base/file.h */
	if (in->fd < 0 || fstat(in->fd, &st) < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return err_set(err, errlen, -EINVAL, "%s: not a regular file", path);
	if (file_set_blocking(in->fd) < 0)
		return err_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	in->file_size = (uint64_t)st.st_size;
	if (pread(in->fd, &hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    fdt_magic(&hdr) != FDT_MAGIC)
		return err_set(err, errlen, -EINVAL, "%s: not a vmm snapshot", path);
	total = fdt_totalsize(&hdr);
	if (total > SNAPSHOT_MAX_DTB || total > in->file_size)
		return err_set(err, errlen, -EINVAL,
			       "%s: truncated or corrupted (state of %u bytes, file of %llu)", path,
			       total, (unsigned long long)in->file_size);
	buf = malloc(total);
	if (!buf)
		return err_set(err, errlen, -ENOMEM, "out of memory");
	if (pread(in->fd, buf, total, 0) != (ssize_t)total) {
		free(buf);
		return err_set(err, errlen, -EIO, "%s: cannot read the state", path);
	}
	ret = snapshot_parse(buf, total, &in->st, err, errlen);
	free(buf);
	if (ret) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		return err_set(err, errlen, ret, "%s: %s", path, why);
	}
	for (i = 0; i < in->st.nregions; i++) {
		const struct snapshot_region *r = &in->st.regions[i];

		if (r->offset < total || r->offset + r->size > in->file_size)
			return err_set(err, errlen, -EINVAL,
				       "%s: truncated: RAM at 0x%llx is not all in the file", path,
				       (unsigned long long)r->gpa);
	}
	return 0;
}

void snapshot_close(struct snapshot_in *in)
{
	snapshot_state_free(&in->st);
	if (in->fd >= 0)
		close(in->fd);
	in->fd = -1;
}

int snapshot_config(struct vmm_config *given, struct snapshot_in *in, struct vmm_config *cfg,
		    char *err, size_t errlen)
{
	char why[256] = "";
	unsigned int i;

	if (cli_parse(in->st.argc, in->st.argv, cfg, why, sizeof(why)) != CLI_RUN)
		return err_set(err, errlen, -EINVAL, "the snapshot's command line: %s", why);
	/* the host-side options given beside --incoming (cli.c allows no others) */
	cfg->incoming = given->incoming;
	cfg->console_log = given->console_log;
	cfg->timeout_sec = given->timeout_sec;
	cfg->trace_exits = given->trace_exits;
	cfg->verbosity = given->verbosity;
	cfg->pvm = given->pvm;
	cfg->hugepages = false; /* the RAM is the file's */
	cfg->reboot = false;	/* a reset would boot the kernel, which restore does not load */
	cfg->incoming_disk_check = given->incoming_disk_check;
	/* the control socket, the pause at start and the sandbox are the host's
	 * too: the ones given now, not the saved ones */
	cfg->api_sock = given->api_sock;
	cfg->paused = given->paused;
	cfg->sandbox = given->sandbox;
	for (i = 0; i < cfg->nlandlock; i++)
		free(cfg->landlock[i].path);
	for (i = 0; i < given->nlandlock; i++)
		cfg->landlock[i] = given->landlock[i];
	cfg->nlandlock = given->nlandlock;
	given->nlandlock = 0;
	/* a disk that moved: only its path is the host's; its options are the
	 * machine's (the snapshot's) */
	if (given->ndisks > cfg->ndisks)
		return err_set(err, errlen, -EINVAL, "--disk: the snapshot has %u disks, %u given",
			       cfg->ndisks, given->ndisks);
	for (i = 0; i < given->ndisks; i++) {
		free(cfg->disks[i].path);
		cfg->disks[i].path = given->disks[i].path;
		given->disks[i].path = NULL;
	}
	for (i = 0; i < cfg->ndisks && cfg->incoming_disk_check; i++) {
		struct snapshot_disk now;
		const struct snapshot_disk *then = &in->st.disks[i];
		int ret;

		if (i >= in->st.nvirtio)
			break; /* a mismatch vm_snapshot_restore reports */
		ret = disk_identity(cfg->disks[i].path, &now, err, errlen);
		if (ret)
			return ret;
		if (now.size != then->size || now.mtime_ns != then->mtime_ns ||
		    memcmp(now.header, then->header, sizeof(now.header)))
			return err_set(
				err, errlen, -ESTALE,
				"disk %s has changed since the snapshot (its %s): the guest's "
				"view of it would be wrong; --incoming-disk-check=off restores "
				"anyway",
				cfg->disks[i].path,
				now.size != then->size		 ? "size"
				: now.mtime_ns != then->mtime_ns ? "modification time"
								 : "header");
	}
	if (cfg->cpus != in->st.ncpus)
		return err_set(err, errlen, -EINVAL,
			       "the snapshot holds %u vCPUs, its command line says %u",
			       in->st.ncpus, cfg->cpus);
	return 0;
}

int vm_snapshot_map_ram(struct vm *vm, char *err, size_t errlen)
{
	const struct snapshot_state *s = &vm->incoming->st;
	unsigned int i;
	int ret;

	if (s->nregions != vm->mem.nregions)
		return err_set(err, errlen, -EINVAL,
			       "the snapshot has %u RAM regions, the machine %u", s->nregions,
			       vm->mem.nregions);
	for (i = 0; i < s->nregions; i++) {
		if (s->regions[i].gpa != vm->mem.regions[i].gpa ||
		    s->regions[i].size != vm->mem.regions[i].size)
			return err_set(err, errlen, -EINVAL,
				       "the snapshot's RAM region %u does not match --mem", i);
		ret = gm_region_map_file(&vm->mem, i, vm->incoming->fd, s->regions[i].offset, err,
					 errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int vm_snapshot_restore(struct vm *vm, char *err, size_t errlen)
{
	const struct snapshot_state *s = &vm->incoming->st;
	char why[256] = "";
	unsigned int i;
	int ret;

	ret = check_cpu_model(&s->model, err, errlen);
	if (ret)
		return ret;
	ret = x86_vm_state_set(vm->vm_fd, &s->vm, why, sizeof(why));
	if (ret)
		return err_set(err, errlen, ret, "restoring the irqchip, PIT and clock: %s", why);
	for (i = 0; i < vm->ncpus; i++) {
		ret = x86_vcpu_state_set(vm->vcpus[i].fd, &s->cpus[i], why, sizeof(why));
		if (ret)
			return err_set(err, errlen, ret, "restoring vCPU %u: %s", i, why);
	}
	if (s->nvirtio != vm->nvirtio)
		return err_set(err, errlen, -EINVAL,
			       "the snapshot has %u virtio devices, its command line %u",
			       s->nvirtio, vm->nvirtio);
	for (i = 0; i < s->nvirtio; i++) {
		ret = vm_virtio_state_load(vm, i, &s->virtio[i], s->backends[i].data,
					   s->backends[i].len, (int)s->backends[i].version, err,
					   errlen);
		if (ret)
			return ret;
	}
	ret = serial_state_load(&vm->serial, &s->serial, err, errlen);
	ret = ret ?: rtc_state_load(&vm->rtc, &s->rtc, err, errlen);
	if (ret)
		return ret;
	platform_state_load(&vm->platform, &s->platform);
	return 0;
}

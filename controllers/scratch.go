/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// scratch is a pod's writable scratch space (the root filesystem is
// read-only): the sizeLimit of its /tmp emptyDir (a pod that exceeds it is
// evicted instead of filling the node's disk) and the container's
// ephemeral-storage request (the scheduler places the pod where that much
// is free).
type scratch struct {
	limit, request resource.Quantity
}

func mib(n int64) resource.Quantity { return *resource.NewQuantity(n<<20, resource.BinarySI) }

// scratchFor sizes /tmp per component. The worker's OCR writes one page
// image at a time per document (pdftoppm at 300 dpi: tens of MiB) plus
// tesseract's caches, so it grows with spec.worker.concurrency; uploads
// are streamed to the storage volume or the bucket, not /tmp. With S3 the
// worker copies each document it processes into /tmp (pdftotext and
// tesseract read files): concurrency documents of up to
// spec.uploads.maxSizeMB more, limit and request.
func scratchFor(cl *clv1.ContractLucidity, component string) scratch {
	switch component {
	case ComponentWorker:
		s := scratch{limit: mib(512 + 256*int64(cl.Spec.Worker.Concurrency)), request: mib(512)}
		if ObjectStorage(cl) {
			docs := mib(int64(cl.Spec.Worker.Concurrency) * int64(cl.Spec.Uploads.MaxSizeMB))
			s.limit.Add(docs)
			s.request.Add(docs)
		}
		return s
	case ComponentBackend:
		return scratch{limit: mib(256), request: mib(128)}
	case ComponentPostgres:
		// /tmp and the socket directory; sorts spill into the data volume.
		return scratch{limit: mib(64), request: mib(128)}
	case ComponentRedis:
		// /tmp only; the append-only file's emptyDir grows with the queue
		// and is requested here too, unless it is on a volume.
		if m := cl.Spec.Redis.Managed; m != nil && m.Persistence != nil {
			return scratch{limit: mib(16), request: mib(16)}
		}
		return scratch{limit: mib(16), request: mib(256)}
	default: // frontend, migrate
		return scratch{limit: mib(64), request: mib(64)}
	}
}

// withScratchRequest adds the ephemeral-storage request to res unless the
// user set one.
func withScratchRequest(res corev1.ResourceRequirements, s scratch) corev1.ResourceRequirements {
	if _, ok := res.Requests[corev1.ResourceEphemeralStorage]; ok {
		return res
	}
	out := *res.DeepCopy()
	if out.Requests == nil {
		out.Requests = corev1.ResourceList{}
	}
	out.Requests[corev1.ResourceEphemeralStorage] = s.request
	return out
}

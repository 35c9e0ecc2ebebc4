/*
Copyright 2026 The Contract Lucidity Authors.

Licensed under the Apache License, Version 2.0.
*/

package controllers

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	clv1 "github.com/contract-lucidity/contract-lucidity/api/v1alpha1"
)

// AppComponents are the application Deployments.
var AppComponents = []string{ComponentFrontend, ComponentBackend, ComponentWorker}

// componentSpec returns the spec of an application component.
func componentSpec(cl *clv1.ContractLucidity, component string) *clv1.ComponentSpec {
	switch component {
	case ComponentFrontend:
		return &cl.Spec.Frontend
	case ComponentBackend:
		return &cl.Spec.Backend
	default:
		return &cl.Spec.Worker.ComponentSpec
	}
}

// AppImage is the image of an application component at version.
func AppImage(cl *clv1.ContractLucidity, component, version string) string {
	var override string
	switch component {
	case ComponentFrontend:
		override = cl.Spec.Images.Frontend
	case ComponentBackend, ComponentMigrate:
		override = cl.Spec.Images.Backend
	case ComponentWorker:
		override = cl.Spec.Images.Worker
	}
	if override != "" {
		return override
	}
	return DefaultImageRepository + ":" + version
}

func appPort(component string) (string, int32) {
	switch component {
	case ComponentFrontend:
		return "http", PortFrontend
	case ComponentBackend:
		return "http", PortBackend
	default:
		return "metrics", PortWorker
	}
}

// usesStorage reports whether a component mounts the storage PVC.
func usesStorage(component string) bool {
	return component == ComponentBackend || component == ComponentWorker
}

// appEnv is the environment of an application container: the secret
// references, then the user's additions (a later entry wins).
func appEnv(cl *clv1.ContractLucidity, component string) []corev1.EnvVar {
	// HOME on the writable /tmp: the root filesystem is read-only and tools
	// such as tesseract or fontconfig write caches under $HOME.
	env := append([]corev1.EnvVar{{Name: "HOME", Value: "/tmp"}}, secretEnvFor(cl, component)...)
	if component != ComponentMigrate {
		env = append(env, componentSpec(cl, component).Env...)
	}
	return env
}

// appContainer is the container of an application pod (also the migration Job).
func appContainer(cl *clv1.ContractLucidity, component, version string, res corev1.ResourceRequirements) corev1.Container {
	c := corev1.Container{
		Name:            component,
		Image:           AppImage(cl, component, version),
		ImagePullPolicy: cl.Spec.Images.PullPolicy,
		Args:            []string{component},
		EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: Name(cl, "config")}}}},
		Env:             appEnv(cl, component),
		Resources:       withScratchRequest(res, scratchFor(cl, component)),
		SecurityContext: containerSecurity(),
		VolumeMounts:    []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}},
	}
	if component == ComponentMigrate {
		return c
	}
	portName, port := appPort(component)
	c.Ports = []corev1.ContainerPort{{Name: portName, ContainerPort: port, Protocol: corev1.ProtocolTCP}}
	if component == ComponentBackend {
		c.Ports = append(c.Ports, corev1.ContainerPort{Name: "metrics", ContainerPort: PortBackendMetrics, Protocol: corev1.ProtocolTCP})
	}
	probe := func(path string, period, failures int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:     corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(portName)}},
			PeriodSeconds:    period,
			TimeoutSeconds:   3,
			FailureThreshold: failures,
		}
	}
	c.StartupProbe = probe("/healthz", 2, 60)
	c.LivenessProbe = probe("/healthz", 10, 3)
	c.ReadinessProbe = probe("/readyz", 5, 3)
	if _, m := storageVolume(cl, false); m != nil && usesStorage(component) {
		c.VolumeMounts = append(c.VolumeMounts, *m)
	}
	return c
}

// appPodSpec is the pod spec shared by Deployments and the migration Job.
func appPodSpec(cl *clv1.ContractLucidity, component string, c corev1.Container) corev1.PodSpec {
	sa := component
	if component == ComponentMigrate {
		sa = ComponentBackend
	}
	ps := corev1.PodSpec{
		ServiceAccountName:           Name(cl, sa),
		AutomountServiceAccountToken: ptr.To(false),
		EnableServiceLinks:           ptr.To(false),
		SecurityContext:              podSecurity(AppUID),
		ImagePullSecrets:             cl.Spec.Images.PullSecrets,
		Containers:                   []corev1.Container{c},
		Volumes:                      []corev1.Volume{emptyDir("tmp", ptr.To(scratchFor(cl, component).limit))},
	}
	if v, _ := storageVolume(cl, false); v != nil && usesStorage(component) {
		ps.Volumes = append(ps.Volumes, *v)
	}
	return ps
}

// StorageCoLocated reports whether backend and worker must share a node
// (ReadWriteOnce storage; with S3 they share no volume).
func StorageCoLocated(cl *clv1.ContractLucidity) bool {
	return cl.Spec.Storage.AccessMode == corev1.ReadWriteOnce && !ObjectStorage(cl)
}

// coLocation is the required pod affinity that puts every backend and
// worker pod of the instance onto one node, for ReadWriteOnce storage. The
// first pod matches its own term, so it schedules anywhere.
func coLocation(cl *clv1.ContractLucidity) corev1.PodAffinityTerm {
	return corev1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{LabelName: AppName, LabelInstance: cl.Name},
			MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: LabelComponent, Operator: metav1.LabelSelectorOpIn,
				Values: []string{ComponentBackend, ComponentWorker},
			}},
		},
		TopologyKey: corev1.LabelHostname,
	}
}

// BuildAppDeployment builds the frontend, backend or worker Deployment at
// version; configHash is the hash of what its pods consume.
func BuildAppDeployment(cl *clv1.ContractLucidity, component, version, configHash string) *appsv1.Deployment {
	spec := componentSpec(cl, component)
	res := spec.Resources
	if isEmptyResources(res) {
		res = componentResources(component)
	}
	ps := appPodSpec(cl, component, appContainer(cl, component, version, res))
	ps.NodeSelector = spec.NodeSelector
	ps.Tolerations = spec.Tolerations
	ps.TopologySpreadConstraints = spec.TopologySpreadConstraints
	if d := defaultSpread(cl, component); d != nil {
		ps.TopologySpreadConstraints = d
	}
	ps.TerminationGracePeriodSeconds = ptr.To[int64](30)
	if component == ComponentWorker {
		// Let a worker finish the document it is processing.
		ps.TerminationGracePeriodSeconds = ptr.To[int64](120)
	}
	if spec.Affinity != nil {
		ps.Affinity = spec.Affinity.DeepCopy()
	}
	if StorageCoLocated(cl) && usesStorage(component) {
		if ps.Affinity == nil {
			ps.Affinity = &corev1.Affinity{}
		}
		if ps.Affinity.PodAffinity == nil {
			ps.Affinity.PodAffinity = &corev1.PodAffinity{}
		}
		pa := ps.Affinity.PodAffinity
		pa.RequiredDuringSchedulingIgnoredDuringExecution = append(pa.RequiredDuringSchedulingIgnoredDuringExecution, coLocation(cl))
	}
	annotations := map[string]string{}
	for k, v := range spec.PodAnnotations {
		annotations[k] = v
	}
	annotations[AnnotationConfigHash] = configHash
	annotations[AnnotationVersion] = version

	d := &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: objectMeta(cl, Name(cl, component), component, true),
		Spec: appsv1.DeploymentSpec{
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(cl, component)},
			RevisionHistoryLimit: ptr.To[int32](5),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(cl, component), Annotations: annotations},
				Spec:       ps,
			},
		},
	}
	if spec.Autoscaling == nil {
		d.Spec.Replicas = spec.Replicas
	}
	return d
}

// BuildAppService is the ClusterIP Service of the frontend or backend
// (and of the worker's metrics when a ServiceMonitor is requested). With a
// ServiceMonitor the backend's Service also names its metrics port.
func BuildAppService(cl *clv1.ContractLucidity, component string) *corev1.Service {
	portName, port := appPort(component)
	ports := []corev1.ServicePort{{Name: portName, Port: port, TargetPort: intstr.FromString(portName), Protocol: corev1.ProtocolTCP}}
	if component == ComponentBackend && cl.Spec.Monitoring.ServiceMonitor {
		ports = append(ports, corev1.ServicePort{Name: "metrics", Port: PortBackendMetrics,
			TargetPort: intstr.FromString("metrics"), Protocol: corev1.ProtocolTCP})
	}
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: objectMeta(cl, Name(cl, component), component, true),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(cl, component),
			Ports:    ports,
		},
	}
}

// BuildServiceAccount is the ServiceAccount of a component; no pod of the
// instance talks to the Kubernetes API, so no token is mounted.
func BuildServiceAccount(cl *clv1.ContractLucidity, component string) *corev1.ServiceAccount {
	return &corev1.ServiceAccount{
		TypeMeta:                     typeMeta("v1", "ServiceAccount"),
		ObjectMeta:                   objectMeta(cl, Name(cl, component), component, true),
		AutomountServiceAccountToken: ptr.To(false),
	}
}

// typeMeta sets apiVersion and kind, needed for server-side apply.
func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

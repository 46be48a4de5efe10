package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// identity is one user of the static token file.
type identity struct {
	name   string // kubeconfig file base name
	user   string
	groups []string
	token  string
}

// pki holds the cluster's credentials, all files under dir.
type pki struct {
	dir                   string
	caCert, caKey         string
	serverCert, serverKey string
	saKey, saPub          string
	tokenFile             string
	caPEM                 []byte
	identities            map[string]identity
}

// Identities the control plane components and tests authenticate as.
const (
	idAdmin             = "admin"
	idScheduler         = "scheduler"
	idControllerManager = "controller-manager"
	idKWOK              = "kwok"
	idHollowNode        = "hollow-node"
	idRealNode          = "real-node"
)

// newPKI creates a CA, a serving certificate for 127.0.0.1, a service-account
// key pair and a static token file with one token per identity.
func newPKI(dir string, now time.Time) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	p := &pki{
		dir:        dir,
		caCert:     filepath.Join(dir, "ca.crt"),
		caKey:      filepath.Join(dir, "ca.key"),
		serverCert: filepath.Join(dir, "apiserver.crt"),
		serverKey:  filepath.Join(dir, "apiserver.key"),
		saKey:      filepath.Join(dir, "sa.key"),
		saPub:      filepath.Join(dir, "sa.pub"),
		tokenFile:  filepath.Join(dir, "tokens.csv"),
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "podtrace-e2e-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sign CA: %w", err)
	}
	if ca, err = x509.ParseCertificate(caDER); err != nil {
		return nil, fmt.Errorf("parse CA: %w", err)
	}
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate serving key: %w", err)
	}
	server := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 0, 0, 1)},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, server, ca, &serverKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("sign serving certificate: %w", err)
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate service-account key: %w", err)
	}

	files := map[string][]byte{
		p.caCert:     p.caPEM,
		p.serverCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: serverDER}),
	}
	for path, key := range map[string]*ecdsa.PrivateKey{p.caKey: caKey, p.serverKey: serverKey, p.saKey: saKey} {
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, fmt.Errorf("marshal key %s: %w", path, err)
		}
		files[path] = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("marshal service-account public key: %w", err)
	}
	files[p.saPub] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	p.identities = map[string]identity{}
	var tokens strings.Builder
	for _, id := range []identity{
		{name: idAdmin, user: "podtrace-e2e-admin", groups: []string{"system:masters"}},
		{name: idScheduler, user: "system:kube-scheduler"},
		{name: idControllerManager, user: "system:kube-controller-manager"},
		// KWOK plays every fake node's kubelet; system:masters keeps RBAC out of its way.
		{name: idKWOK, user: "kwok-controller", groups: []string{"system:masters"}},
		{name: idHollowNode, user: "system:node:" + HollowNodeName, groups: []string{"system:nodes"}},
		{name: idRealNode, user: "system:node:" + RealNodeName, groups: []string{"system:nodes"}},
	} {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("generate token: %w", err)
		}
		id.token = hex.EncodeToString(b)
		p.identities[id.name] = id
		// token,user,uid[,"group1,group2"]
		fmt.Fprintf(&tokens, "%s,%s,%s", id.token, id.user, id.user)
		if len(id.groups) > 0 {
			fmt.Fprintf(&tokens, ",%q", strings.Join(id.groups, ","))
		}
		tokens.WriteByte('\n')
	}
	files[p.tokenFile] = []byte(tokens.String())

	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return p, nil
}

// restConfig is a client configuration for identity name against server.
func (p *pki) restConfig(server, name string) *rest.Config {
	return &rest.Config{
		Host:            server,
		BearerToken:     p.identities[name].token,
		TLSClientConfig: rest.TLSClientConfig{CAData: p.caPEM},
		QPS:             100,
		Burst:           200,
	}
}

// writeKubeconfig writes a kubeconfig for identity name and returns its path.
func (p *pki) writeKubeconfig(server, name string) (string, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: p.caCert}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: p.identities[name].token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: name}
	cfg.CurrentContext = "e2e"
	path := filepath.Join(p.dir, name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return path, nil
}

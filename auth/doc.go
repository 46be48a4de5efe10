// Package auth decides who may call podtrace's HTTP endpoints: a bearer
// token, or users with bcrypt-hashed passwords (htpasswd -B files) for HTTP
// basic auth, checked in constant time; and read-only mode, which refuses
// every method that could change something. Credentials are read from files
// (never flags, which other users of the machine can see in ps) and are never
// logged or echoed back.
package auth

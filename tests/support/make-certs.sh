#!/usr/bin/env bash
# Makes a throw-away CA and a server certificate for localhost, 127.0.0.1 and ::1, for test
# servers. Usage: make-certs.sh OUTDIR  ->  OUTDIR/{ca.pem,server.pem,server.key,
# other-ca.pem (a CA that signed nothing we serve), wrong-host.pem/.key (for another name)}
set -euo pipefail
out=${1:?usage: make-certs.sh OUTDIR}
mkdir -p "$out"
cd "$out"
[ -s ca.pem ] && [ -s server.pem ] && [ -s wrong-host.pem ] && exit 0

conf() {
  cat <<CONF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = $1
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $2
CONF
}

openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mailoauth test CA" \
  -keyout ca.key -out ca.pem -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=mailoauth other CA" \
  -keyout other-ca.key -out other-ca.pem 2>/dev/null

issue() {  # name cn san
  conf "$2" "$3" > "$1.cnf"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -config "$1.cnf" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
    -extfile "$1.cnf" -extensions ext -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.cnf"
}
issue server localhost "DNS:localhost,IP:127.0.0.1,IP:::1"
issue wrong-host mail.example.org "DNS:mail.example.org"
chmod 600 ./*.key

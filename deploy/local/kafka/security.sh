# Sourced by deploy/local/kafka.sh: the secure listeners of the local broker (SASL_SSL with
# SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN; SSL with client certificates) and the material they
# need, made on the spot with openssl into $SEC (inside the data dir, so `start --fresh` renews
# it): a CA, the broker's certificate (SAN 127.0.0.1 and localhost) in a PKCS12 keystore, a
# client certificate whose key is encrypted, and the password of the SCRAM/PLAIN user `sferum`.
# Every secret is random and stays in files of mode 600; none is printed.
#
# Needs: SEC, PORT, SASL_PORT, SSL_PORT (empty when that listener is off), openssl.

SASL_USER=sferum

# make_security_material: once per data dir.
make_security_material() {
  [[ -f $SEC/.complete ]] && return 0
  command -v openssl >/dev/null || die "openssl not found (needed for the broker's secure listeners)"
  rm -rf "$SEC"
  mkdir -p "$SEC"
  chmod 700 "$SEC"
  (
    umask 077
    cd "$SEC"
    local days=3650 start
    # Valid from 90 days back, so a client whose clock is behind (the tests run under a clock moved
    # back by libfaketime, docs/testing.md) accepts them; `openssl ca` is what sets a start date.
    start=$(date -u -d '-90 days' +%Y%m%d%H%M%SZ)
    printf '%s\n' '[ca]' 'default_ca=local' '[local]' 'database=index.txt' 'new_certs_dir=.' 'serial=serial' \
      'default_md=sha256' 'policy=any' 'unique_subject=no' '[any]' 'commonName=supplied' >ca.cnf
    : >index.txt
    echo 01 >serial
    sign() { # CSR OUT EXTENSIONS [openssl ca options]
      openssl ca -batch -notext -config ca.cnf -in "$1" -out "$2" -extfile "$3" -startdate "$start" -days "$days" \
        "${@:4}" 2>/dev/null
    }
    openssl rand -hex 24 >keystore.password
    openssl rand -hex 24 >"$SASL_USER.password"
    openssl rand -hex 24 >client-key.password
    # CA
    openssl req -newkey rsa:2048 -nodes -keyout ca.key -out ca.csr -subj "/CN=sferum-kpi local CA" 2>/dev/null
    printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >ca.ext
    sign ca.csr ca.pem ca.ext -selfsign -keyfile ca.key
    # Broker: the names clients check (hostname verification).
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >broker.ext
    sign broker.csr broker.pem broker.ext -cert ca.pem -keyfile ca.key
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -out broker.p12 -passout "file:keystore.password"
    # Client certificate for the SSL listener; its key encrypted with client-key.password.
    openssl req -newkey rsa:2048 -passout "file:client-key.password" -keyout client.key -out client.csr \
      -subj "/CN=$SASL_USER" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    sign client.csr client.pem client.ext -cert ca.pem -keyfile ca.key
    rm -f ./*.csr ./*.ext ./0*.pem ca.cnf index.txt* serial* broker.key
    [[ -s ca.pem && -s broker.p12 && -s client.pem && -s client.key ]]  # the subshell's status
  ) || die "making the TLS material in $SEC failed"
  touch "$SEC/.complete"
}

secret() { tr -d '\n' <"$SEC/$1"; }

# security_properties: lines appended to server.properties.
security_properties() {
  local listeners=() map=()
  [[ -n $SASL_PORT ]] && listeners+=("SASL_SSL://127.0.0.1:$SASL_PORT") && map+=(SASL_SSL:SASL_SSL)
  [[ -n $SSL_PORT ]] && listeners+=("SSL://127.0.0.1:$SSL_PORT") && map+=(SSL:SSL)
  local joined
  joined=$(IFS=,; echo "${listeners[*]}")
  echo "listeners=PLAINTEXT://127.0.0.1:$PORT,CONTROLLER://127.0.0.1:$CPORT,$joined"
  echo "advertised.listeners=PLAINTEXT://127.0.0.1:$PORT,$joined"
  echo "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,$(IFS=,; echo "${map[*]}")"
  echo "ssl.keystore.type=PKCS12"
  echo "ssl.keystore.location=$SEC/broker.p12"
  echo "ssl.keystore.password=$(secret keystore.password)"
  echo "ssl.truststore.type=PEM"
  echo "ssl.truststore.location=$SEC/ca.pem"
  if [[ -n $SSL_PORT ]]; then
    echo "listener.name.ssl.ssl.client.auth=required"
  fi
  if [[ -n $SASL_PORT ]]; then
    local scram="org.apache.kafka.common.security.scram.ScramLoginModule required;"
    echo "listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256,PLAIN"
    echo "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=$scram"
    echo "listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=$scram"
    echo "listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule" \
      "required user_$SASL_USER=\"$(secret "$SASL_USER.password")\";"
  fi
}

# scram_format_args: StorageTool options that create the SCRAM user at format time.
scram_format_args() {
  local pw mech
  pw=$(secret "$SASL_USER.password")
  for mech in SCRAM-SHA-512 SCRAM-SHA-256; do
    printf '%s\n' --add-scram "$mech=[name=$SASL_USER,password=$pw]"
  done
}

# client_env KIND: the SFERUM_* settings of a client of listener KIND (sasl_ssl or ssl).
client_env() {
  case ${1:-sasl_ssl} in
    sasl_ssl)
      [[ -n $SASL_PORT ]] || die "no SASL_SSL listener: start with SFERUM_KAFKA_SASL_SSL_PORT set"
      echo "SFERUM_BROKER=127.0.0.1:$SASL_PORT"
      echo "SFERUM_KAFKA_SECURITY_PROTOCOL=SASL_SSL"
      echo "SFERUM_KAFKA_SASL_MECHANISM=SCRAM-SHA-512"
      echo "SFERUM_KAFKA_USERNAME=$SASL_USER"
      echo "SFERUM_KAFKA_PASSWORD_FILE=$SEC/$SASL_USER.password"
      echo "SFERUM_KAFKA_CA_FILE=$SEC/ca.pem" ;;
    ssl)
      [[ -n $SSL_PORT ]] || die "no SSL listener: start with SFERUM_KAFKA_SSL_PORT set"
      echo "SFERUM_BROKER=127.0.0.1:$SSL_PORT"
      echo "SFERUM_KAFKA_SECURITY_PROTOCOL=SSL"
      echo "SFERUM_KAFKA_CA_FILE=$SEC/ca.pem"
      echo "SFERUM_KAFKA_CERT_FILE=$SEC/client.pem"
      echo "SFERUM_KAFKA_KEY_FILE=$SEC/client.key"
      echo "SFERUM_KAFKA_KEY_PASSWORD_FILE=$SEC/client-key.password" ;;
    *) die "client-env takes sasl_ssl or ssl" ;;
  esac
}

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
    local days=3650
    openssl rand -hex 24 >keystore.password
    openssl rand -hex 24 >"$SASL_USER.password"
    openssl rand -hex 24 >client-key.password
    # CA
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days "$days" \
      -subj "/CN=sferum-kpi local CA" -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    # Broker: the names clients check (hostname verification).
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' >broker.ext
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days "$days" \
      -extfile broker.ext 2>/dev/null
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker \
      -out broker.p12 -passout "file:keystore.password"
    # Client certificate for the SSL listener; its key encrypted with client-key.password.
    openssl req -newkey rsa:2048 -passout "file:client-key.password" -keyout client.key -out client.csr \
      -subj "/CN=$SASL_USER" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days "$days" \
      -extfile client.ext 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl broker.key
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

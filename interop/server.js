'use strict';

// ftnpipe interop peer: a FutoIn Executor built on the JavaScript reference
// implementation (futoin-executor + futoin-invoker + futoin-asyncsteps, versions
// pinned in package.json). The Go tests in this folder start it, read the
// "LISTEN 127.0.0.1:PORT" line from stdout and call it over HTTP and WebSocket.
//
// Usage: node server.js [PORT] [--no-stdin]
//   PORT        TCP port on 127.0.0.1 (default: INTEROP_PORT from the
//               environment, else 0 = any free port).
//   --no-stdin  Do not exit when stdin closes (for running it by hand
//               with stdin redirected from /dev/null).
//
// The process exits on SIGTERM, SIGINT and when stdin reaches end of file, so
// it never outlives the process that started it.
//
// One HTTP server carries both transports on the path /ftn:
//   http://127.0.0.1:PORT/ftn  (POST, coded message in the body)
//   ws://127.0.0.1:PORT/ftn
//
// Interfaces (specs in ./specs):
//   ftnpipe.test:1.0    AllowAnonymous: echo, add, fail, undeclared, sleep
//   ftnpipe.secure:1.0  authenticated users only: whoami, echo
//   ftnpipe.mac:1.0     authenticated users only: whoami, echo, add, mirror,
//                       fail (meant for MAC-signed calls)
//   ftnpipe.raw:1.0     AllowAnonymous: FTN5 raw data: upload (rawupload),
//                       download (rawresult), upper (both), failRaw
//   ftnpipe.bin:1.0     AllowAnonymous + BinaryData: reverse, fail (raw bytes
//                       in "data" params and results, for the MessagePack
//                       and CBOR coders; the reference detects the coder
//                       from each message's first bytes and answers in it)
//
// Users (clear-text "user:password" credentials, checked by the reference
// LegacySecurityProvider): tester / s3cr3t. The reference splits "sec" on ':'
// and treats exactly two parts as user and password, so a password must not
// contain ':'.
//
// MAC-signed calls (keys: the constants below, standard Base64):
//   -hmac:{user}:{algo}:{sig}  legacy FTN6 HMAC, checked and signed by the
//                              reference LegacySecurityProvider through its
//                              #basicauth service (algo MD5, SHA224, SHA256,
//                              SHA384, SHA512): users hmacuser, otheruser.
//   -smac:{user}:{algo}:{sig}  FTN8.1 stateless MAC. The reference executor
//                              has no checker for it (its base SecurityProvider
//                              answers NotImplemented), so SmacSecurityProvider
//                              below does it, with the reference's own MAC code
//                              (SpecTools.genHMACRaw / checkHMAC, the functions
//                              the reference invoker signs with). algo HMD5,
//                              HS256, HS384, HS512: users smacuser, otheruser;
//                              smacliar signs its replies with the wrong key,
//                              smacmute does not sign them (to test invokers).

const http = require( 'http' );
const path = require( 'path' );

const $as = require( 'futoin-asyncsteps' );
const { AdvancedCCM, SpecTools } = require( 'futoin-invoker' );
const {
    NodeExecutor,
    LegacySecurityProvider,
    SecurityProvider,
    RequestInfo,
} = require( 'futoin-executor' );

const { SecurityError } = $as.Errors;

const HOST = '127.0.0.1';
const HTTP_PATH = '/ftn';
const SPEC_DIR = path.join( __dirname, 'specs' );

const USERS = [
    { user: 'tester', password: 's3cr3t', details: { FullName: 'Interop Tester' } },
];

// MAC keys, standard Base64 (strict: the Go client refuses the reference
// tests' 111222333444555666777888999). The Go tests (mac_test.go) hold the
// same constants.
const HMAC_KEY = 'd1LlU76iNmkl4XIZ4oFw9YoJd8lSZEWJqTsuwFyEfbw='; // 32 bytes
const SMAC_KEY = 'Vz5LMXn7mqF0mEKbW46FLGv9bJSSFz+cTGbCAkKOVJ+Edl0yzgDFBngy/atb0e+hRFBnt2m037zCSvoolwxVzg=='; // 64 bytes
const OTHER_KEY = '6ll0IkRsJ4Ty1RLSyNYOEDUnACWSgod0m8LorSB2AY8='; // 32 bytes
const WRONG_KEY = 'X35zm4l4g7HiA/sAwszhojzeK20KxVuhMR+tPKRgdAA='; // nobody's key

// Legacy -hmac users. BasicAuthService uses the user's "secret" as the raw
// HMAC key (crypto.createHmac( algo, secret )), while the invoker Base64-
// decodes its hmacKey option: so the secret is the decoded Buffer.
const HMAC_USERS = [
    { user: 'hmacuser', key: HMAC_KEY },
    { user: 'otheruser', key: OTHER_KEY },
];

// -smac users (SmacSecurityProvider).
const SMAC_USERS = [
    { user: 'smacuser', key: SMAC_KEY },
    { user: 'otheruser', key: OTHER_KEY },
    // Accepted with SMAC_KEY, but the replies are signed with WRONG_KEY.
    { user: 'smacliar', key: SMAC_KEY, rspKey: WRONG_KEY },
    // Accepted with SMAC_KEY, but the replies are not signed at all.
    { user: 'smacmute', key: SMAC_KEY, noSign: true },
];

// FTN8 algorithm names only: -smac does not take the legacy names.
const SMAC_ALGOS = new Set( [ 'HMD5', 'HS256', 'HS384', 'HS512' ] );

// The executor cancels a request after reqTimeout ms (reference default 5 s).
// sleep() must be cut by the Go client's own timeout, never by the executor,
// so this is well above anything the tests ask for.
const REQ_TIMEOUT_MS = 60e3;

// sleep() refuses to wait longer than this, so a stray call cannot pin the
// process.
const MAX_SLEEP_MS = 30e3;

const SYM_SMAC = Symbol( 'SMAC' );

// FTN8.1 stateless MAC (-smac) on the reference executor, which has none.
// Chained behind LegacySecurityProvider: that one handles -hmac and
// "user:password" and passes every other "sec" here.
//
// The MAC is the reference invoker's own: SpecTools.genHMACRaw over the whole
// message minus the top-level "sec" (the same function signs the invoker's
// requests and checks the executor's replies), compared with
// SpecTools.checkHMAC (timing-safe).
class SmacSecurityProvider extends SecurityProvider {
    constructor( users ) {
        super();
        this._users = new Map();
        let id = 1001;

        for ( const u of users ) {
            const login = u.user;
            this._users.set( login, {
                key: Buffer.from( u.key, 'base64' ),
                rspKey: Buffer.from( u.rspKey || u.key, 'base64' ),
                noSign: !!u.noSign,
                info: { local_id: id, global_id: `G${id}`, details: { Login: login } },
            } );
            ++id;
        }
    }

    checkAuth( as, reqinfo, reqmsg, sec ) {
        if ( sec[0] !== '-smac' ) {
            super.checkAuth( as, reqinfo, reqmsg, sec );
            return;
        }

        this._normalizeQueryParams( as, reqinfo );
        as.add( ( as ) => {
            const [ , user, algo, sig ] = sec;
            const u = ( sec.length === 4 ) && this._users.get( user );
            let raw_algo = null;
            let ok = false;

            // One generic answer whatever was wrong (FTN8 §2.1.7).
            if ( u && SMAC_ALGOS.has( algo ) ) {
                raw_algo = SpecTools.getRawAlgo( as, algo );
                const want = SpecTools.genHMACRaw( raw_algo, u.key, reqmsg );
                ok = SpecTools.checkHMAC( Buffer.from( sig, 'base64' ), want );
            }

            if ( !ok ) {
                as.error( SecurityError, 'Stateless MAC Verification Failed' );
            }

            this._setUser( as, reqinfo, RequestInfo.SL_PRIVILEGED_OPS,
                Object.assign( {}, u.info, { details: Object.assign( {}, u.info.details ) } ) );
            reqinfo.info[SYM_SMAC] = { u, raw_algo };
        } );
    }

    // Signs every reply (results and errors) to a verified -smac request,
    // rid included, as LegacySecurityProvider does for -hmac.
    signAuto( as, reqinfo, rspmsg ) {
        const st = reqinfo.info[SYM_SMAC];

        if ( !st || st.u.noSign ) {
            return false;
        }

        rspmsg.sec = SpecTools.genHMACRaw( st.raw_algo, st.u.rspKey, rspmsg ).toString( 'base64' );
        return true;
    }

    isSigned( reqinfo ) {
        return !!reqinfo.info[SYM_SMAC];
    }
}

function parseArgs( argv ) {
    const out = { port: 0, watchStdin: true };
    const env_port = process.env.INTEROP_PORT;

    if ( env_port ) {
        out.port = parseInt( env_port, 10 );
    }

    for ( const a of argv ) {
        if ( a === '--no-stdin' ) {
            out.watchStdin = false;
        } else if ( /^[0-9]+$/.test( a ) ) {
            out.port = parseInt( a, 10 );
        } else {
            throw new Error( `unknown argument: ${a}` );
        }
    }

    if ( !( out.port >= 0 && out.port < 65536 ) ) {
        throw new Error( `invalid port: ${out.port}` );
    }

    return out;
}

// ftnpipe.test:1.0
const testImpl = {
    echo( as, reqinfo ) {
        return { msg: reqinfo.params().msg };
    },

    add( as, reqinfo ) {
        const { a, b } = reqinfo.params();
        return { sum: a + b };
    },

    fail( as, _reqinfo ) {
        as.error( 'MyError', 'fail() always fails' );
    },

    undeclared( as, _reqinfo ) {
        // Not listed in the function's "throws": the executor must not pass it on.
        as.error( 'NotDeclaredError', 'this error is not in throws' );
    },

    sleep( as, reqinfo ) {
        const ms = reqinfo.params().ms;

        if ( ms < 0 || ms > MAX_SLEEP_MS ) {
            as.error( 'InvalidRequest', `ms must be within 0..${MAX_SLEEP_MS}` );
        }

        as.add( ( as ) => {
            let timer = setTimeout( () => {
                timer = null;
                as.success( { slept: ms } );
            }, ms );

            // Runs when the executor cancels the request (its own timeout,
            // the client went away, or shutdown).
            as.setCancel( () => {
                if ( timer ) {
                    clearTimeout( timer );
                    timer = null;
                }
            } );
        } );
    },
};

// whoami() of ftnpipe.secure and ftnpipe.mac: the login the security
// provider put on the request, and its security level.
function whoami( as, reqinfo ) {
    const info = reqinfo.info;
    const user = info.USER_INFO;

    if ( !user ) {
        // Cannot happen: the interfaces have no AllowAnonymous.
        as.error( SecurityError, 'no user' );
    }

    user.details( as );
    as.add( ( as, details ) => {
        as.success( {
            login: String( details.Login ),
            seclvl: String( info.SECURITY_LEVEL ),
        } );
    } );
}

// ftnpipe.mac:1.0
const macImpl = {
    whoami( as, reqinfo ) {
        whoami( as, reqinfo );
        as.add( ( as, { login } ) => as.success( { login } ) );
    },

    echo( as, reqinfo ) {
        return { msg: reqinfo.params().msg };
    },

    add( as, reqinfo ) {
        const { a, b } = reqinfo.params();
        return { sum: a + b };
    },

    mirror( as, reqinfo ) {
        const { m, l } = reqinfo.params();
        return { m, l };
    },

    fail( as, _reqinfo ) {
        as.error( 'MyError', 'fail() always fails' );
    },
};

// ftnpipe.bin:1.0
const binImpl = {
    reverse( as, reqinfo ) {
        const { b, n, s } = reqinfo.params();
        return { b: Buffer.from( b ).reverse(), len: b.length, n, s };
    },

    fail( as, _reqinfo ) {
        as.error( 'MyError', 'fail() always fails' );
    },
};

// readAll collects a raw upload, then calls done( Buffer ).
function readAll( as, inp, done ) {
    as.add( ( as ) => {
        const chunks = [];
        as.waitExternal();
        inp.on( 'data', ( c ) => chunks.push( c ) );
        inp.on( 'end', () => {
            try {
                done( as, Buffer.concat( chunks ) );
            } catch ( e ) {
                // as is finished already
            }
        } );
        inp.on( 'error', () => {
            try {
                as.error( 'InvalidRequest', 'upload failed' );
            } catch ( e ) {
                // as is finished already
            }
        } );
    } );
}

// pattern returns n bytes of the alphabet, over and over.
function pattern( n ) {
    const b = Buffer.alloc( n );

    for ( let i = 0; i < n; ++i ) {
        b[i] = 97 + ( i % 26 );
    }

    return b;
}

// ftnpipe.raw:1.0 (FTN5 raw data). The executor converts the query strings
// of a URL-mapped request to the declared types first.
const rawImpl = {
    upload( as, reqinfo ) {
        const p = reqinfo.params();
        readAll( as, reqinfo.rawInput(), ( as, body ) => as.success( {
            len: body.length,
            body: body.toString( 'utf8' ),
            name: p.name,
            count: p.count + 1,
            x: String( p.meta.x ),
            seclvl: String( reqinfo.info.SECURITY_LEVEL ),
        } ) );
    },

    download( as, reqinfo ) {
        const out = reqinfo.rawOutput();
        out.setHeader( 'Content-Type', 'text/plain' );
        out.write( pattern( reqinfo.params().n ) );
    },

    upper( as, reqinfo ) {
        readAll( as, reqinfo.rawInput(), ( as, body ) => {
            const out = reqinfo.rawOutput();
            out.setHeader( 'Content-Type', 'application/octet-stream' );
            out.write( Buffer.from( body.toString( 'latin1' ).toUpperCase(), 'latin1' ) );
            as.success();
        } );
    },

    failRaw( as, _reqinfo ) {
        as.error( 'MyError', 'no raw data today' );
    },
};

// ftnpipe.secure:1.0
const secureImpl = {
    whoami,

    echo( as, reqinfo ) {
        return { msg: reqinfo.params().msg };
    },
};

function main() {
    let opts;

    try {
        opts = parseArgs( process.argv.slice( 2 ) );
    } catch ( e ) {
        process.stderr.write( `server.js: ${e.message}\n` );
        process.exit( 2 );
    }

    const ccm = new AdvancedCCM( { specDirs: [ SPEC_DIR ] } );
    // The executor's CCM only calls the in-process #basicauth service; keep
    // its default limit zone out of the way anyway.
    ccm.limitZone( 'default', { concurrent: 0xFFFF, max_queue: 0xFFFF, rate: 0xFFFF } );

    const httpServer = http.createServer();
    let executor = null;
    let stopping = false;

    const stop = ( why, code = 0 ) => {
        if ( stopping ) {
            return;
        }

        stopping = true;
        process.stderr.write( `server.js: stopping (${why})\n` );

        // Hard limit: open keep-alive connections or pending requests must not
        // keep us alive.
        setTimeout( () => process.exit( code ), 1000 ).unref();

        const done = () => process.exit( code );

        try {
            if ( executor ) {
                executor.close( done );
            } else {
                httpServer.close( done );
            }

            ccm.close();
        } catch ( e ) {
            process.stderr.write( `server.js: close failed: ${e}\n` );
            process.exit( code || 1 );
        }
    };

    process.on( 'SIGTERM', () => stop( 'SIGTERM' ) );
    process.on( 'SIGINT', () => stop( 'SIGINT' ) );

    if ( opts.watchStdin ) {
        process.stdin.on( 'end', () => stop( 'stdin closed' ) );
        process.stdin.on( 'error', () => stop( 'stdin error' ) );
        process.stdin.resume();
    }

    // Paths outside HTTP_PATH: the executor ignores them when it does not own
    // the server, so answer them here instead of leaving them hanging.
    const prefix = HTTP_PATH + '/';
    const onPath = ( url ) => ( url + '/' ).startsWith( prefix );

    httpServer.on( 'request', ( req, rsp ) => {
        if ( !onPath( req.url ) ) {
            rsp.writeHead( 404, { 'Content-Type': 'text/plain' } );
            rsp.end( 'not found\n' );
        }
    } );
    httpServer.on( 'upgrade', ( req, sock ) => {
        if ( !onPath( req.url ) ) {
            sock.destroy();
        }
    } );

    $as()
        .add(
            ( as ) => {
                // Clear-text user:password checks through the reference's own
                // BasicAuth service (an in-process executor it creates).
                // -hmac and user:password there; -smac chained behind it.
                const secprov = new LegacySecurityProvider(
                    as, ccm, new SmacSecurityProvider( SMAC_USERS ) );

                for ( const u of USERS ) {
                    secprov.addUser( u.user, u.password, Object.assign( {}, u.details ) );
                }

                for ( const u of HMAC_USERS ) {
                    secprov.addUser( u.user, Buffer.from( u.key, 'base64' ), {} );
                }

                executor = new NodeExecutor( ccm, {
                    specDirs: [ SPEC_DIR ],
                    httpServer,
                    httpPath: HTTP_PATH,
                    securityProvider: secprov,
                    reqTimeout: REQ_TIMEOUT_MS,
                    // Permissive: the reference limiter is off unless enabled,
                    // and when it rejects it sends no reply at all.
                    enableLimiter: false,
                } );

                executor.on( 'notExpected', ( err, error_info ) => {
                    process.stderr.write(
                        `server.js: notExpected: ${err}: ${error_info}\n` );
                } );

                executor.register( as, 'ftnpipe.test:1.0', testImpl );
                executor.register( as, 'ftnpipe.secure:1.0', secureImpl );
                executor.register( as, 'ftnpipe.mac:1.0', macImpl );
                executor.register( as, 'ftnpipe.bin:1.0', binImpl );
                executor.register( as, 'ftnpipe.raw:1.0', rawImpl );

                as.add( ( as ) => {
                    as.waitExternal();
                    httpServer.once( 'error', ( e ) => {
                        process.stderr.write( `server.js: listen failed: ${e.message}\n` );
                        process.exit( 1 );
                    } );
                    httpServer.listen( opts.port, HOST, () => {
                        const { address, port } = httpServer.address();
                        process.stdout.write( `LISTEN ${address}:${port}\n` );
                        as.success();
                    } );
                } );
            },
            ( as, err ) => {
                process.stderr.write(
                    `server.js: startup failed: ${err}: ${as.state.error_info}\n` );

                if ( as.state.last_exception ) {
                    process.stderr.write( `${as.state.last_exception.stack}\n` );
                }

                process.exit( 1 );
            }
        )
        .execute();
}

main();

package natsexec

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/prefect-go/prefect/config"
)

// Subject returns the subject the jobs of the flow called flowName go on:
// the prefix ([DefaultSubjectPrefix], or [WithStream]'s), a dot and the
// flow's name as one subject token (see [ConsumerName] for the encoding).
func Subject(flowName string, opts ...Option) string {
	o := newOptions(opts)
	return o.subject(flowName)
}

// ConsumerName returns the name of the durable consumer the workers of
// the flow called flowName share: the base name ([DefaultDurable], or
// [WithDurable]'s), a dash and the flow's name as one token. Letters,
// digits, '-' and '_' stay as they are; any other byte of the name is
// written ~XX (in hexadecimal), so that two names never share a token and
// the token is valid in a subject and a consumer name ("my flow.v2" is
// "my~20flow~2Ev2"; not '%' as in a URL, which nats-server 2.9 mishandles
// in a consumer's name). A token over 128 bytes is cut, and ends with "~~"
// and 16 hexadecimal digits of the name's SHA-256.
func ConsumerName(flowName string, opts ...Option) string {
	o := newOptions(opts)
	return o.consumer(flowName)
}

func (o *options) subject(flowName string) string  { return o.prefix + "." + flowToken(flowName) }
func (o *options) consumer(flowName string) string { return o.durable + "-" + flowToken(flowName) }

// maxToken bounds a flow's token, so that a consumer name stays well under
// JetStream's 255 bytes.
const maxToken = 128

// flowToken is name as one subject token and part of a consumer name,
// without collisions (see ConsumerName).
func flowToken(name string) string {
	if name == "" {
		return "~" // no encoded name is a lone '~'
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "~%02X", c)
		}
	}
	t := b.String()
	if len(t) <= maxToken {
		return t
	}
	sum := sha256.Sum256([]byte(name))
	cut := maxToken - 18
	if i := strings.LastIndexByte(t[:cut], '~'); i >= cut-2 {
		cut = i // not inside a ~XX
	}
	return t[:cut] + "~~" + hex.EncodeToString(sum[:8])
}

// consumerConfig is the configuration of flowName's consumer with ack
// wait d.
func (o *options) consumerConfig(flowName string, d time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       o.consumer(flowName),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       d,
		FilterSubject: o.subject(flowName),
	}
}

// setConsumer creates flowName's consumer, or updates it, with the ack
// wait of o: an executor's, which every run of the flow sets. When a
// consumer an earlier version of this package made for all flows stands
// in its way (see dropLegacy), it deletes that one and tries again.
func setConsumer(ctx context.Context, js jetstream.JetStream, o *options, flowName string) (jetstream.Consumer, error) {
	cfg := o.consumerConfig(flowName, o.ackWait)
	upsert := func(ctx context.Context) (jetstream.Consumer, error) {
		return js.CreateOrUpdateConsumer(ctx, o.stream, cfg)
	}
	cons, err := retryAPI(ctx, upsert)
	if err != nil && notUnique(err) {
		// Deleted now, or by a worker meanwhile: try again either way.
		if _, derr := dropLegacy(ctx, js, o); derr == nil {
			cons, err = retryAPI(ctx, upsert)
		}
	}
	if err != nil {
		return nil, consumerErr(o, cfg, err)
	}
	return cons, nil
}

// openConsumer returns flowName's consumer for a worker: as it is when it
// exists (a worker never changes its ack wait: the flow program sets it),
// else created with the worker's ack wait.
func openConsumer(ctx context.Context, js jetstream.JetStream, o *options, flowName string) (jetstream.Consumer, error) {
	cfg := o.consumerConfig(flowName, o.ackWait)
	cons, err := retryAPI(ctx, func(ctx context.Context) (jetstream.Consumer, error) {
		c, err := js.Consumer(ctx, o.stream, cfg.Durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			c, err = js.CreateConsumer(ctx, o.stream, cfg)
			if errors.Is(err, jetstream.ErrConsumerExists) {
				c, err = js.Consumer(ctx, o.stream, cfg.Durable) // another made it meanwhile
			}
		}
		return c, err
	})
	if err != nil {
		return nil, consumerErr(o, cfg, err)
	}
	if got := cons.CachedInfo().Config.FilterSubject; got != cfg.FilterSubject {
		return nil, fmt.Errorf("natsexec: consumer %q on stream %q takes subject %q, not flow %q's %q: it is not this package's; delete it or name the workers' consumers otherwise (WithDurable)",
			cfg.Durable, o.stream, got, flowName, cfg.FilterSubject)
	}
	return cons, nil
}

// consumerErr says that the consumer of cfg could not be set up, and why
// when the stream already has a consumer of its subject.
func consumerErr(o *options, cfg jetstream.ConsumerConfig, err error) error {
	if notUnique(err) {
		return fmt.Errorf("natsexec: creating consumer %q on stream %q: %w (another consumer of the stream takes subject %q; a work-queue stream gives each subject to one consumer: delete that one)",
			cfg.Durable, o.stream, err, cfg.FilterSubject)
	}
	return fmt.Errorf("natsexec: creating consumer %q on stream %q: %w", cfg.Durable, o.stream, err)
}

// notUnique reports whether err is a work-queue stream refusing a consumer
// whose subjects another consumer takes.
func notUnique(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == errCodeWQNotUnique || apiErr.ErrorCode == errCodeWQMultipleUnfiltered)
}

// Error codes of the JetStream API that package jetstream does not name.
const (
	errCodeWQMultipleUnfiltered jetstream.ErrorCode = 10099
	errCodeWQNotUnique          jetstream.ErrorCode = 10100
)

// dropLegacy deletes the consumer that versions of this package before
// per-flow consumers made, and reports whether there was one: the base
// name itself ([DefaultDurable], "prefect-workers"), taking every subject
// of the prefix. On a work-queue stream it holds every flow's subject, so
// no per-flow consumer can be made beside it; on any stream it gives every
// flow's jobs to workers that may not hold the flow. A consumer of that
// name with another filter is left alone. Workers of the earlier build
// still consuming it lose it, and stop with an error.
func dropLegacy(ctx context.Context, js jetstream.JetStream, o *options) (bool, error) {
	c, err := retryAPI(ctx, func(ctx context.Context) (jetstream.Consumer, error) { return js.Consumer(ctx, o.stream, o.durable) })
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("natsexec: looking up consumer %q on stream %q: %w", o.durable, o.stream, err)
	}
	cfg := c.CachedInfo().Config
	if cfg.FilterSubject != o.prefix+".>" && !(len(cfg.FilterSubjects) == 1 && cfg.FilterSubjects[0] == o.prefix+".>") {
		return false, nil
	}
	if _, err := retryAPI(ctx, func(ctx context.Context) (struct{}, error) {
		err := js.DeleteConsumer(ctx, o.stream, o.durable)
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			err = nil // another deleted it meanwhile
		}
		return struct{}{}, err
	}); err != nil {
		return false, fmt.Errorf("natsexec: deleting consumer %q of an earlier version on stream %q: %w", o.durable, o.stream, err)
	}
	o.logger.Warn("natsexec: deleted the consumer of an earlier version of natsexec, which took every flow's task runs; each flow now has a consumer of its own. Workers of the earlier build still running stop: start them from this build",
		"stream", o.stream, "consumer", o.durable, "subject", o.prefix+".>")
	return true, nil
}

// AckWaitKey is the configuration key of the ack wait a flow program sets
// on its flows' consumers ([WithAckWait]), set in the environment as
// PREFECT__NATS__ACK_WAIT (an agent forwards it with --env): a Go duration
// ("45s", "2m") or a number of seconds. A worker's --ack-wait defaults to
// it too.
const AckWaitKey = "nats.ack_wait"

// AckWait returns the ack wait the configuration sets ([AckWaitKey]), or 0
// when it sets none.
func AckWait(cfg *config.Config) (time.Duration, error) {
	if cfg == nil {
		return 0, nil
	}
	s := strings.TrimSpace(cfg.String(AckWaitKey))
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || secs <= 0 || secs > (1<<62)/float64(time.Second) {
			return 0, fmt.Errorf("natsexec: %s is %q: want a duration such as 45s, or a number of seconds", AckWaitKey, s)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < MinAckWait {
		return 0, fmt.Errorf("natsexec: %s is %v: want at least %v", AckWaitKey, d, MinAckWait)
	}
	return d, nil
}

// Package deps pins the modules the workflow packages are being written
// against, so go.mod lists them before the code that imports them lands.
package deps

import (
	_ "github.com/spf13/viper"
	_ "go.temporal.io/sdk/activity"
	_ "go.temporal.io/sdk/client"
	_ "go.temporal.io/sdk/testsuite"
	_ "go.temporal.io/sdk/worker"
	_ "go.temporal.io/sdk/workflow"
	_ "go.temporal.io/server/temporal"
	_ "go.temporal.io/server/temporaltest"
)

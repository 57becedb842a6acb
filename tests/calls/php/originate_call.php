<?php
// seed-002's example, as published (parameters, hash, curlPost), with the values a test
// needs taken from the environment.  curlPost is the usual one (the seed calls it without
// showing it): a form POST of http_build_query($params), the body read and returned.

function curlPost($url, $params)
{
    $ch = curl_init();
    curl_setopt($ch, CURLOPT_URL, $url);
    curl_setopt($ch, CURLOPT_POST, true);
    curl_setopt($ch, CURLOPT_POSTFIELDS, http_build_query($params));
    curl_setopt($ch, CURLOPT_RETURNTRANSFER, true);
    curl_setopt($ch, CURLOPT_TIMEOUT, 60);
    $result = curl_exec($ch);
    curl_close($ch);
    return $result;
}

$env = function ($name, $default) {
    $value = getenv($name);
    return $value === false ? $default : $value;
};

$params = array(
    'api_username' => $env('API_USERNAME', 'your_api_usr'),
    'api_password' => $env('API_PASSWORD', 'your_api_pass'),
    'data' => array(
        'project_id' => 1,
        'caller_id' => $env('CALLER_ID', '0123456789'),
        'caller_id_name' => 'John Doe',
        'type' => $env('TYPE', 'queue'), // user, queue, context
        'destination' => $env('DESTINATION', 'test-queue'),
        'external_id' => $env('EXTERNAL_ID', 'asdf1234'),
        'async' => (int) $env('ASYNC', '1'),
        'outbound_number' => '+40212345678',
        'outbound_trunk' => 'default-trunk',
        'vars' => array(
            'SKIP_WELCOME' => 1,
            'SKIP_WE_ARE_RECORDING' => 1,
            'SKIP_ENTER_QUEUE' => 0,
            'BACKEND_LINK' => 'https://crm.example.com/?change_this_url=1234', // for pop-up
        )
    )
);

$params['api_hash'] = md5(http_build_query($params) . $env('API_KEY', 'your_api_key')); // make hash

$url = $env('URL', 'http://127.0.0.1/api/originate-call');
echo curlPost($url, $params);
